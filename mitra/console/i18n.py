"""The console in English and Telugu. Templates write English inside `_()`; this table gives
the Telugu. A test checks that every `_()` in the templates has its Telugu here."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "te")

TE: dict[str, str] = {
    # navigation and signing in
    "Queue": "పనుల వరుస",
    "Conversations": "సంభాషణలు",
    "Dashboard": "డాష్‌బోర్డ్",
    "Catalogue": "సేవల జాబితా",
    "Audit": "ఆడిట్",
    "Sign out": "నిష్క్రమించండి",
    "Sign in": "ప్రవేశించండి",
    "Username": "వినియోగదారు పేరు",
    "Password": "పాస్‌వర్డ్",
    "Code from your authenticator app (if you use one)": "ఆథెంటికేటర్ యాప్‌లోని కోడ్ (వాడితే)",
    "Choose your own password": "మీ సొంత పాస్‌వర్డ్ ఎంచుకోండి",
    "You signed in with a temporary password. Choose your own (at least 12 characters)"
    " before you go on.": "మీరు తాత్కాలిక పాస్‌వర్డ్‌తో ప్రవేశించారు. కొనసాగే ముందు మీ సొంత"
    " పాస్‌వర్డ్ (కనీసం 12 అక్షరాలు) ఎంచుకోండి.",
    "Current password": "ప్రస్తుత పాస్‌వర్డ్",
    "New password": "కొత్త పాస్‌వర్డ్",
    "New password again": "కొత్త పాస్‌వర్డ్ మళ్ళీ",
    "Change password": "పాస్‌వర్డ్ మార్చండి",
    # the queue
    "Status": "స్థితి",
    "Service": "సేవ",
    "Due": "గడువు",
    "any": "ఏదైనా",
    "overdue": "గడువు దాటింది",
    "on time": "గడువులోపు",
    "Filter": "వడపోయండి",
    "Submitted from": "ఈ తేదీ నుంచి వచ్చినవి",
    "Reference": "సూచన సంఖ్య",
    "Office": "కార్యాలయం",
    "Nothing in your queue.": "మీ వరుసలో ఏమీ లేదు.",
    # a case
    "Applicant": "దరఖాస్తుదారు",
    "Resolution": "పరిష్కారం",
    "Rating": "రేటింగ్",
    "priority": "ప్రాధాన్యత",
    "reported by": "తెలిపినవారు",
    "Answers": "సమాధానాలు",
    "Attachments": "జతపరచినవి",
    "Act": "చర్య",
    "History": "చరిత్ర",
    "When": "ఎప్పుడు",
    "What": "ఏమిటి",
    "Who": "ఎవరు",
    "Note": "గమనిక",
    "Photo of it fixed": "సరిచేసిన తర్వాతి ఫోటో",
    "What information is needed": "ఏ సమాచారం కావాలి",
    "Why": "ఎందుకు",
    "What was done": "ఏం చేశారు",
    "Review": "పరిశీలించండి",
    "Return": "తిరిగి పంపండి",
    "Approve": "ఆమోదించండి",
    "Reject": "తిరస్కరించండి",
    "Start": "పని మొదలుపెట్టండి",
    "Resolve": "పరిష్కరించండి",
    "Escalate": "పై కార్యాలయానికి పంపండి",
    "Why it needs the office above": "పై కార్యాలయం ఎందుకు చూడాలి",
    "Assign": "అప్పగించండి",
    "Assigned to": "అప్పగించినది",
    "nobody": "ఎవరికీ కాదు",
    # conversations
    "Citizen waiting": "వేచి ఉన్న పౌరులు",
    "Since": "నుంచి",
    "No one is waiting.": "ఎవరూ వేచి లేరు.",
    "Send on WhatsApp": "వాట్సాప్‌లో పంపండి",
    "Hand back to the assistant": "సహాయకుడికి తిరిగి అప్పగించండి",
    # dashboard
    "Nothing yet.": "ఇంకా ఏమీ లేదు.",
    "Applications and grievances by status": "స్థితి వారీగా దరఖాస్తులు, ఫిర్యాదులు",
    "Services used most": "ఎక్కువగా వాడిన సేవలు",
    "Open cases by office: on time and overdue": ("కార్యాలయం వారీగా తెరిచి ఉన్నవి: గడువులోపు, గడువు దాటినవి"),
    "Grievance ratings by office (average of 5)": "కార్యాలయం వారీగా ఫిర్యాదుల రేటింగ్ (5కి సగటు)",
    "Submitted per day (last 14 days)": "రోజువారీగా వచ్చినవి (గత 14 రోజులు)",
    "Messages per hour (last 24 hours)": "గంటకు సందేశాలు (గత 24 గంటలు)",
    "Where citizens stop (reached each step, last 30 days)": (
        "పౌరులు ఎక్కడ ఆగిపోతున్నారు (ప్రతి దశకు చేరినవారు, గత 30 రోజులు)"
    ),
    "By department": "శాఖ వారీగా",
    "SLA breaches by office (last 30 days)": "కార్యాలయం వారీగా గడువు ఉల్లంఘనలు (గత 30 రోజులు)",
    "Sort": "క్రమం",
    "soonest due": "గడువు దగ్గరైనవి ముందు",
    "newest": "కొత్తవి ముందు",
    "Issued document (PDF)": "జారీ చేసిన పత్రం (PDF)",
    "Open on a map": "మ్యాప్‌లో చూడండి",
    "open": "తెరిచి ఉన్నవి",
    "decided or closed": "నిర్ణయించినవి / ముగిసినవి",
    # catalogue
    "Code": "కోడ్",
    "Pattern": "విధానం",
    "Version": "వెర్షన్",
    "Citizens can use it": "పౌరులు వాడగలరా",
    "yes": "అవును",
    "switched off": "నిలిపివేయబడింది",
    "Switch on": "ప్రారంభించండి",
    "Switch off": "నిలిపివేయండి",
    "why (citizens are told it is unavailable)": "ఎందుకు (అందుబాటులో లేదని పౌరులకు చెబుతాం)",
    # audit
    "Audit trail": "ఆడిట్ రికార్డు",
    "From": "ఎక్కడి నుంచి",
    "On": "దేనిపై",
    "Search": "వెతకండి",
    # statuses
    "submitted": "సమర్పించబడింది",
    "in review": "పరిశీలనలో ఉంది",
    "returned": "తిరిగి పంపబడింది",
    "approved": "ఆమోదించబడింది",
    "rejected": "తిరస్కరించబడింది",
    "issued": "జారీ అయింది",
    "withdrawn": "ఉపసంహరించబడింది",
    "registered": "నమోదైంది",
    "in progress": "పురోగతిలో ఉంది",
    "resolved": "పరిష్కరించబడింది",
    "reopened": "మళ్ళీ తెరవబడింది",
    "closed": "ముగించబడింది",
}


def translator(language: str) -> Callable[[str], str]:
    if language != "te":
        return lambda text: text
    return lambda text: TE.get(text, text)
