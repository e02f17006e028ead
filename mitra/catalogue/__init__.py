"""The catalogue: departments and services as data (YAML), validated by a schema at load.

A service is a pattern plus parameters: the steps the engine runs, every citizen-facing string
in English and Telugu, synonyms and keywords for search, the department adapter it calls and
example conversations that the test suite drives. Adding a service of an existing pattern is a
YAML change, never a code change.
"""
