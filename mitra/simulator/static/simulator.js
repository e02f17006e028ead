// The citizen simulator: draws each citizen's WhatsApp chat from the fake Graph API's
// transcript (server-sent events from /simulator/api/events) and turns what the citizen does
// into /simulator/api/send, which the server posts to Mitra as a signed webhook.
//
// Every string from the server is put on the page with textContent or as an attribute of an
// element built here; nothing is parsed as HTML. Links open only if they are http(s).
"use strict";

(() => {
  const STORE = "mitra-simulator";
  const WA_ID = /^[1-9][0-9]{7,14}$/;
  const RANK = { sent: 1, delivered: 2, read: 3, failed: 4 };
  const MAX_FILE = 16 * 1024 * 1024;
  const TYPING_MS = 25000;

  const transcripts = new Map(); // wa_id -> events, in order
  const panes = new Map(); // wa_id -> Pane (the open chats)
  let places = null; // the map's villages, wards and mandals, fetched once
  let state = loadState();

  // ---- the citizens ---------------------------------------------------------------------

  function loadState() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORE) || "null");
    } catch (_) {
      saved = null;
    }
    const fresh = saved && Array.isArray(saved.citizens) ? saved : {
      citizens: [{ wa_id: "919876543210", name: "Lakshmi" }],
      open: ["919876543210"],
    };
    // ?citizens=919876543210:Lakshmi,919123456789:Ravi opens exactly these (a link to share).
    const wanted = new URLSearchParams(location.search).get("citizens");
    if (wanted) {
      fresh.open = [];
      for (const part of wanted.split(",")) {
        const [waId, ...name] = part.split(":");
        if (!WA_ID.test(waId)) continue;
        addCitizen(fresh, waId, name.join(":") || "Citizen");
        fresh.open.push(waId);
      }
    }
    return fresh;
  }

  function saveState() {
    try {
      localStorage.setItem(STORE, JSON.stringify(state));
    } catch (_) { /* private browsing: the page still works, it just forgets */ }
  }

  function addCitizen(target, waId, name) {
    const known = target.citizens.find((c) => c.wa_id === waId);
    if (known) {
      if (name && known.name === "Citizen") known.name = name;
      return known;
    }
    const citizen = { wa_id: waId, name: name || "Citizen" };
    target.citizens.push(citizen);
    return citizen;
  }

  function citizen(waId) {
    return state.citizens.find((c) => c.wa_id === waId) || { wa_id: waId, name: "Citizen" };
  }

  function drawCitizens() {
    const list = document.getElementById("citizen-list");
    list.replaceChildren();
    for (const c of state.citizens) {
      const item = el("li", { "data-wa-id": c.wa_id, title: "Open or close this chat" });
      item.classList.toggle("open", state.open.includes(c.wa_id));
      item.append(
        el("span", { class: "face" }, (c.name || "?").slice(0, 1).toUpperCase()),
        el("span", { class: "label" }, el("b", {}, c.name), el("span", {}, "+" + c.wa_id)),
      );
      item.addEventListener("click", () => toggle(c.wa_id));
      list.append(item);
    }
  }

  function toggle(waId) {
    if (state.open.includes(waId)) close(waId);
    else open(waId);
  }

  function open(waId) {
    if (!state.open.includes(waId)) state.open.push(waId);
    if (!panes.has(waId)) {
      const pane = new Pane(citizen(waId));
      panes.set(waId, pane);
      document.getElementById("phones").append(pane.root);
      for (const event of transcripts.get(waId) || []) pane.apply(event, false);
      pane.scroll();
    }
    saveState();
    drawCitizens();
  }

  function close(waId) {
    state.open = state.open.filter((w) => w !== waId);
    const pane = panes.get(waId);
    if (pane) pane.root.remove();
    panes.delete(waId);
    saveState();
    drawCitizens();
  }

  function setUpAddForm() {
    const form = document.getElementById("add-citizen");
    const problem = document.getElementById("add-error");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const waId = form.elements.wa_id.value.replace(/[\s+-]/g, "");
      const name = form.elements.name.value.trim();
      let error = "";
      if (!WA_ID.test(waId)) error = "Use the number with its country code, digits only, e.g. 919876543210.";
      else if (!name) error = "Give a profile name, as WhatsApp shows it.";
      problem.textContent = error;
      problem.hidden = !error;
      if (error) return;
      addCitizen(state, waId, name);
      form.reset();
      open(waId);
    });
  }

  // ---- the live transcript ----------------------------------------------------------------

  function connect() {
    const source = new EventSource("/simulator/api/events");
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      receive(event);
    };
    source.onopen = () => document.body.classList.remove("offline");
    // The browser reconnects by itself, resuming after the last event it saw.
    source.onerror = () => document.body.classList.add("offline");
  }

  function receive(event) {
    const waId = event.wa_id;
    if (event.kind === "restart") {
      // The server restarted (a new demo): its transcript starts again, and follows.
      transcripts.clear();
      for (const pane of panes.values()) {
        pane.chat.replaceChildren(system("Mitra restarted: this chat starts again."));
      }
      return;
    }
    if (event.kind === "reset") {
      transcripts.set(waId, []);
    } else {
      if (!transcripts.has(waId)) transcripts.set(waId, []);
      transcripts.get(waId).push(event);
    }
    if (event.kind === "in" && !state.citizens.some((c) => c.wa_id === waId)) {
      addCitizen(state, waId, event.name); // someone simulated elsewhere (curl, mitra chat)
      saveState();
      drawCitizens();
    }
    const pane = panes.get(waId);
    if (pane) pane.apply(event, true);
  }

  async function send(waId, what) {
    const c = citizen(waId);
    const body = Object.assign({ wa_id: waId, name: c.name }, what);
    let response;
    try {
      response = await fetch("/simulator/api/send", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (_) {
      return "Not sent: the simulator cannot reach the server.";
    }
    if (response.ok) return "";
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = Array.isArray(problem.detail)
        ? problem.detail.map((d) => d.msg.replace(/^Value error, /, "")).join("; ")
        : String(problem.detail || detail);
    } catch (_) { /* keep the status text */ }
    return "Not sent: " + detail;
  }

  // ---- one chat -----------------------------------------------------------------------------

  class Pane {
    constructor(c) {
      this.waId = c.wa_id;
      this.root = document.getElementById("phone-template").content.firstElementChild.cloneNode(true);
      this.root.dataset.waId = c.wa_id;
      this.chat = this.root.querySelector(".chat");
      this.sub = this.root.querySelector(".sub");
      this.error = this.root.querySelector(".send-error");
      this.typingTimer = null;
      this.root.querySelector(".name").textContent = document.body.dataset.business;
      this.sub.textContent = this.idle();
      this.root.querySelector(".citizen-strip").textContent =
        `You are ${c.name} · +${c.wa_id}`;
      this.wireMenu();
      this.wireComposer();
      this.wireSheets();
      this.chat.append(hint());
    }

    idle() {
      return "Official business account · " + document.body.dataset.number;
    }

    async act(what) {
      const problem = await send(this.waId, what);
      this.error.textContent = problem;
      this.error.hidden = !problem;
      return !problem;
    }

    // -- what arrives

    apply(event, live) {
      if (event.kind === "reset") {
        this.chat.replaceChildren(system("Chat reset: Mitra will meet this citizen afresh."), hint());
        this.stopTyping();
        return;
      }
      if (event.kind === "status") {
        const item = this.chat.querySelector(`li[data-wamid="${CSS.escape(event.wamid)}"]`);
        if (item) setTicks(item.querySelector(".ticks"), event.state);
        return;
      }
      if (event.kind === "typing") {
        this.startTyping();
        return;
      }
      if (event.kind !== "in" && event.kind !== "out") return;
      for (const note of this.chat.querySelectorAll("li.hint")) note.remove();
      if (event.kind === "out") this.stopTyping();
      const item = el("li", { class: event.kind, "data-wamid": event.wamid, "data-kind": event.view.kind });
      const bubble = el("div", { class: "bubble" });
      item.append(bubble);
      this.draw(event.view, bubble, item);
      const ticks = el("span", { class: "ticks", "aria-label": "status" });
      const meta = el("div", { class: "meta" }, el("time", {}, clock(event.at)));
      if (event.kind === "in") {
        setTicks(ticks, "sent");
        ticks.title = "Sent. ✓✓ when Mitra's webhook took it; blue when Mitra read it.";
      } else {
        ticks.title = "Statuses reported to Mitra's webhook";
      }
      meta.append(ticks);
      bubble.append(meta);
      this.chat.append(item);
      if (live) this.scroll();
    }

    draw(view, bubble, item) {
      if (view.header) bubble.append(el("div", { class: "header" }, view.header));
      const media = view.media;
      switch (view.kind) {
        case "image":
          if (safeUrl(media.url)) {
            const picture = el("img", { src: safeUrl(media.url), alt: media.caption || "photo" });
            bubble.append(el("a", { href: safeUrl(media.url), target: "_blank", rel: "noopener" }, picture));
          } else bubble.append(el("div", { class: "text" }, "Photo (no longer available)"));
          break;
        case "audio":
        case "video":
          if (safeUrl(media.url)) bubble.append(el(view.kind, { src: safeUrl(media.url), controls: "" }));
          else bubble.append(el("div", { class: "text" }, "Voice note (no longer available)"));
          break;
        case "sticker":
        case "document":
          bubble.append(documentCard(media));
          if (media.verify_url && safeUrl(media.verify_url)) {
            // What pointing a phone's camera at the document's QR code opens.
            bubble.append(el("a", {
              class: "row-button qr", href: safeUrl(media.verify_url), target: "_blank",
              rel: "noopener noreferrer", title: "Open what the document's QR code points to",
            }, "Scan its QR code: verify"));
          }
          break;
        case "location":
          bubble.append(pin(view.location));
          break;
        default:
          if (view.text) bubble.append(formatted(view.text));
      }
      if (media && media.caption) bubble.append(formatted(media.caption));
      if (view.footer) bubble.append(el("div", { class: "footer" }, view.footer));
      if (view.kind === "buttons") {
        const actions = el("div", { class: "actions" });
        for (const b of view.buttons) {
          const button = el("button", { type: "button", "data-reply-id": b.id }, b.title);
          button.addEventListener("click", () =>
            this.act({ reply_id: b.id, reply_title: b.title, list: false }));
          actions.append(button);
        }
        item.append(actions);
      } else if (view.kind === "list") {
        const button = el("button", { type: "button", class: "row-button" }, "☰ " + view.button);
        button.addEventListener("click", () => this.openList(view));
        bubble.append(button);
      } else if (view.kind === "link") {
        const href = safeUrl(view.link.url);
        const link = el("a", { class: "row-button", target: "_blank", rel: "noopener noreferrer" },
          "↗ " + view.link.label);
        if (href) link.href = href;
        bubble.append(link);
      } else if (view.kind === "location_request") {
        const button = el("button", { type: "button", class: "row-button" }, pinIcon(), " Send location");
        button.addEventListener("click", () => this.openLocation());
        bubble.append(button);
      }
    }

    startTyping() {
      this.sub.textContent = "typing…";
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_MS);
    }

    stopTyping() {
      clearTimeout(this.typingTimer);
      this.sub.textContent = this.idle();
    }

    scroll() {
      this.chat.scrollTop = this.chat.scrollHeight;
    }

    // -- what the citizen does

    wireMenu() {
      const menu = this.root.querySelector(".menu");
      this.root.querySelector(".menu-button").addEventListener("click", () => {
        menu.hidden = !menu.hidden;
      });
      menu.addEventListener("click", async (e) => {
        const action = e.target.dataset.action;
        menu.hidden = true;
        if (action === "language") await this.act({ text: "language" });
        if (action === "close") close(this.waId);
        if (action === "reset") {
          const response = await fetch("/simulator/api/reset", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ wa_id: this.waId }),
          }).catch(() => null);
          this.error.textContent = response && response.ok ? "" : "Could not reset this citizen.";
          this.error.hidden = Boolean(response && response.ok);
        }
      });
    }

    wireComposer() {
      const form = this.root.querySelector(".composer");
      const input = form.querySelector(".text");
      const attachMenu = form.querySelector(".attach-menu");
      const file = form.querySelector(".file");
      let voice = false;
      let kind = "image";
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        input.value = "";
        if (!(await this.act({ text }))) input.value = text;
      });
      form.querySelector(".attach").addEventListener("click", () => {
        attachMenu.hidden = !attachMenu.hidden;
      });
      attachMenu.addEventListener("click", (e) => {
        const chosen = e.target.dataset.kind;
        if (!chosen) return;
        attachMenu.hidden = true;
        if (chosen === "location") return this.openLocation();
        voice = chosen === "voice";
        kind = voice ? "audio" : chosen;
        file.accept = { image: "image/*", audio: "audio/*", document: "" }[kind];
        file.click();
      });
      file.addEventListener("change", async () => {
        const chosen = file.files[0];
        file.value = "";
        if (!chosen) return;
        if (chosen.size > MAX_FILE) {
          this.error.textContent = "That file is larger than WhatsApp allows (16 MB).";
          this.error.hidden = false;
          return;
        }
        const data = await base64Of(chosen);
        await this.act({
          media: {
            type: kind,
            mime_type: chosen.type || "application/octet-stream",
            data_base64: data,
            filename: chosen.name,
            voice,
          },
        });
      });
    }

    wireSheets() {
      for (const sheet of this.root.querySelectorAll(".sheet")) {
        sheet.querySelector(".close").addEventListener("click", () => { sheet.hidden = true; });
        sheet.addEventListener("click", (e) => { if (e.target === sheet) sheet.hidden = true; });
      }
      const sheet = this.root.querySelector(".location-sheet");
      const lat = sheet.querySelector(".lat");
      const lon = sheet.querySelector(".lon");
      const problem = sheet.querySelector(".coords-error");
      const map = sheet.querySelector(".map");
      map.addEventListener("click", (e) => {
        const point = map.createSVGPoint();
        point.x = e.clientX;
        point.y = e.clientY;
        const at = point.matrixTransform(map.getScreenCTM().inverse());
        const [la, lo] = unproject(at.x, at.y);
        lat.value = la.toFixed(5);
        lon.value = lo.toFixed(5);
        this.placePin();
      });
      for (const input of [lat, lon]) input.addEventListener("input", () => this.placePin());
      sheet.querySelector(".sheet-send").addEventListener("click", async () => {
        const la = Number(lat.value);
        const lo = Number(lon.value);
        let error = "";
        if (lat.value.trim() === "" || !Number.isFinite(la) || la < -90 || la > 90) error = "Latitude is a number from -90 to 90.";
        else if (lon.value.trim() === "" || !Number.isFinite(lo) || lo < -180 || lo > 180) error = "Longitude is a number from -180 to 180.";
        problem.textContent = error;
        problem.hidden = !error;
        if (error) return;
        if (await this.act({ location: { latitude: la, longitude: lo } })) sheet.hidden = true;
      });
    }

    openList(view) {
      const sheet = this.root.querySelector(".list-sheet");
      sheet.querySelector("h3").textContent = view.button;
      const rows = sheet.querySelector(".rows");
      const sendButton = sheet.querySelector(".sheet-send");
      rows.replaceChildren();
      sendButton.disabled = true;
      let chosen = null;
      const group = "row-" + Math.random().toString(36).slice(2);
      for (const section of view.sections) {
        if (section.title) rows.append(el("h4", {}, section.title));
        for (const row of section.rows) {
          const radio = el("input", { type: "radio", name: group, value: row.id });
          radio.addEventListener("change", () => { chosen = row; sendButton.disabled = false; });
          const words = el("span", {}, el("b", {}, row.title));
          if (row.description) words.append(el("small", {}, row.description));
          rows.append(el("label", { "data-row-id": row.id }, words, radio));
        }
      }
      sendButton.onclick = async () => {
        if (!chosen) return;
        sheet.hidden = true;
        await this.act({ reply_id: chosen.id, reply_title: chosen.title, list: true });
      };
      sheet.hidden = false;
    }

    async openLocation() {
      const sheet = this.root.querySelector(".location-sheet");
      sheet.hidden = false;
      const map = sheet.querySelector(".map");
      if (!map.dataset.drawn) {
        map.dataset.drawn = "1";
        await drawMap(map);
      }
    }

    placePin() {
      const sheet = this.root.querySelector(".location-sheet");
      const map = sheet.querySelector(".map");
      const la = Number(sheet.querySelector(".lat").value);
      const lo = Number(sheet.querySelector(".lon").value);
      let mark = map.querySelector(".pin-mark");
      if (!Number.isFinite(la) || !Number.isFinite(lo)) return;
      const [x, y] = project(la, lo);
      if (!mark) {
        mark = svg("path", { class: "pin-mark" });
        map.append(mark);
      }
      mark.setAttribute("d", `M${x} ${y} l-6 -13 a7 7 0 1 1 12 0 z`);
      const near = nearest(la, lo);
      sheet.querySelector(".place").textContent = near
        ? `Near ${near.name.en} (${near.kind}), ${near.district.name.en}`
        : "";
    }
  }

  // ---- drawing helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  // Drawn, not an emoji: many office machines have no colour-emoji font.
  function pinIcon() {
    const icon = svg("svg", { class: "icon", viewBox: "0 0 24 24", "aria-hidden": "true" });
    icon.append(svg("path", { d: "M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z" }));
    return icon;
  }

  function hint() {
    const note = system("Say “Hi” to start, as a citizen would.");
    note.classList.add("hint");
    return note;
  }

  function system(text) {
    return el("li", { class: "system" }, el("span", {}, text));
  }

  function clock(at) {
    const when = new Date(at * 1000);
    return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function setTicks(ticks, status) {
    if (!ticks) return;
    const now = RANK[ticks.dataset.status] || 0;
    if (RANK[status] <= now && status !== "failed") return;
    ticks.dataset.status = status;
    ticks.textContent = { sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" }[status];
    if (status === "failed") ticks.title = "Not delivered: Mitra's webhook did not take it.";
  }

  function safeUrl(url) {
    if (!url) return "";
    try {
      const parsed = new URL(url, location.href);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : "";
    } catch (_) {
      return "";
    }
  }

  // WhatsApp's formatting: *bold*, _italic_, ~strike~, ```monospace```; links are tappable.
  const FORMAT = /```([\s\S]+?)```|(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<![\w_])_([^_\n]+)_(?![\w_])|(?<![\w~])~([^~\n]+)~(?![\w~])|(https?:\/\/[^\s<>"]+)/g;

  function formatted(text) {
    const node = el("div", { class: "text" });
    let last = 0;
    for (const m of text.matchAll(FORMAT)) {
      node.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[1] !== undefined) node.append(el("code", {}, m[1]));
      else if (m[2] !== undefined) node.append(el("strong", {}, m[2]));
      else if (m[3] !== undefined) node.append(el("em", {}, m[3]));
      else if (m[4] !== undefined) node.append(el("s", {}, m[4]));
      else {
        const url = m[5].replace(/[.,;:!?)\]]+$/, "");
        last = m.index + url.length;
        node.append(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url));
      }
    }
    node.append(text.slice(last));
    return node;
  }

  function documentCard(media) {
    const type = (media.mime_type || "").split("/").pop().toUpperCase().slice(0, 4) || "FILE";
    const size = media.size == null ? "" : ` · ${Math.max(1, Math.round(media.size / 1024))} kB`;
    const card = el("a", { class: "doc", target: "_blank", rel: "noopener" },
      el("span", { class: "icon" }, type === "PDF" ? "PDF" : type),
      el("span", { class: "file" }, el("b", {}, media.filename || "Document"),
        el("span", {}, type + size)));
    if (safeUrl(media.url)) card.href = safeUrl(media.url);
    return card;
  }

  function pin(place) {
    const words = el("div", { class: "pin" },
      el("span", { class: "where" }, pinIcon(), " " + (place.name || "Location")),
      el("span", {}, `${place.latitude.toFixed(5)}, ${place.longitude.toFixed(5)}`));
    if (place.address) words.append(el("span", {}, place.address));
    return words;
  }

  function base64Of(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  // ---- the map: the state's villages, wards and mandals as dots (no tiles, no internet) -----

  const MAP = { w: 400, h: 360, south: 12.5, north: 19.5, west: 76.6, east: 84.9 };

  function project(lat, lon) {
    const x = ((lon - MAP.west) / (MAP.east - MAP.west)) * MAP.w;
    const y = ((MAP.north - lat) / (MAP.north - MAP.south)) * MAP.h;
    return [x, y];
  }

  function unproject(x, y) {
    const lon = MAP.west + (x / MAP.w) * (MAP.east - MAP.west);
    const lat = MAP.north - (y / MAP.h) * (MAP.north - MAP.south);
    return [lat, lon];
  }

  async function drawMap(map) {
    if (places === null) {
      try {
        places = (await (await fetch("/simulator/api/places")).json()).places || [];
      } catch (_) {
        places = [];
      }
    }
    const lats = places.map((p) => p.location.lat);
    const lons = places.map((p) => p.location.lon);
    if (places.length) {
      const pad = 0.25;
      Object.assign(MAP, {
        south: Math.min(...lats) - pad, north: Math.max(...lats) + pad,
        west: Math.min(...lons) - pad, east: Math.max(...lons) + pad,
      });
    }
    map.replaceChildren(svg("rect", { class: "land", x: 0, y: 0, width: MAP.w, height: MAP.h }));
    for (const p of places) {
      const [x, y] = project(p.location.lat, p.location.lon);
      const dot = svg("circle", {
        class: "town " + p.kind, cx: x.toFixed(1), cy: y.toFixed(1), r: p.kind === "mandal" ? 2.4 : 1.4,
      });
      const title = svg("title", {});
      title.textContent = `${p.name.en} · ${p.name.te} (${p.kind}, ${p.district.name.en})`;
      dot.append(title);
      map.append(dot);
    }
    if (!places.length) {
      const note = svg("text", { x: 12, y: 24, "font-size": 13, fill: "#54656f" });
      note.textContent = "No map here: type the coordinates below.";
      map.append(note);
    }
  }

  function nearest(lat, lon) {
    let best = null;
    let bestDistance = Infinity;
    for (const p of places || []) {
      const d = (p.location.lat - lat) ** 2 + (p.location.lon - lon) ** 2;
      if (d < bestDistance) { best = p; bestDistance = d; }
    }
    return bestDistance < 0.05 ? best : null; // about 25 km
  }

  // ---- start ------------------------------------------------------------------------------------

  setUpAddForm();
  drawCitizens();
  for (const waId of state.open) open(waId);
  saveState();
  connect();
})();
