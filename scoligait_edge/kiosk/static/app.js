// The station's page: one WebSocket for state (JSON) and preview (JPEG); no build step, no library.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  let client = sessionStorage.getItem("kiosk-client");
  if (!client) { client = crypto.getRandomValues(new Uint32Array(4)).join("-"); sessionStorage.setItem("kiosk-client", client); }
  const HINTS = {
    no_person: "Nobody in view: stand 3–5 m from the camera",
    body_cut: "Step back: your whole body, head to feet, must be in the picture",
    hold_still: "Good, whole body in view: get ready to walk",
    walk_now: "Walk now: across the room at your usual pace",
    recording: "Recording: keep walking",
    waiting_for_camera: "Waiting for the camera…",
  };
  const CUT = { top: "head", bottom: "feet", left: "left side", right: "right side" };
  const BONES = [[5,7],[7,9],[6,8],[8,10],[5,6],[5,11],[6,12],[11,12],[11,13],[13,15],[12,14],[14,16],[15,17],[15,19],[16,18],[16,20],[0,5],[0,6]];
  const stats = { latencies: [], states: 0, previews: 0, screen: "starting", state: null, sentFrames: 0 };
  window.__kiosk = stats;
  let ws = null, localScreen = "welcome", state = null, previewImg = null, pendingCapture = null, camStream = null, camTimer = null;
  let busy = false;

  function show(name) {
    for (const s of document.querySelectorAll(".screen")) s.classList.toggle("active", s.id === "screen-" + name);
    stats.screen = name;
    const focus = { welcome: "welcome-next", consent: "c-subject", summary: "next" }[name];
    if (focus) $(focus).focus();
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = new URLSearchParams({ client }); if (token) q.set("token", token);
    ws = new WebSocket(`${proto}//${location.host}/ws?${q}`);
    ws.binaryType = "blob";
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") { onPreview(ev.data); return; }
      const msg = JSON.parse(ev.data);
      if (msg.type === "state") onState(msg);
      else if (msg.type === "busy") { busy = true; show("busy"); }
      else if (msg.type === "hello") onHello(msg);
      else if (msg.type === "preview") pendingCapture = msg.captured_ms;
      else if (msg.type === "operator") onOperator(msg);
      else if (msg.type === "error") { $("consent-error").textContent = msg.message; }
    };
    ws.onclose = (ev) => {
      if (busy || ev.code === 4409) { show("busy"); return; }
      if (ev.code === 4000) return; // replaced by our own reload
      setTimeout(connect, 1000);
    };
  }
  const send = (obj) => ws && ws.readyState === 1 && ws.send(JSON.stringify(obj));

  function onHello(msg) {
    if (msg.views && msg.views.length) $("views-note").textContent = "This model was trained on these camera views: " + msg.views.join(", ") + ". Set the camera up to match.";
    else $("views-note").textContent = "General instructions: the model's bundle does not say which camera views it was trained on.";
  }

  function onState(s) {
    state = s; stats.state = s; stats.states++;
    if (s.phase === "starting" || s.phase === "error") { $("starting-error").textContent = s.error || ""; show("starting"); return; }
    if (s.phase === "idle") { stopCamera(); if (localScreen === "live" || localScreen === "summary" || stats.screen === "starting") { localScreen = "welcome"; clearSubject(); } show(localScreen); return; }
    if (s.phase === "guiding" || s.phase === "recording") { localScreen = "live"; show("live"); renderLive(s); if (s.browser_camera) startCamera(); return; }
    if (s.phase === "summary") { stopCamera(); localScreen = "summary"; renderSummary(s.summary, s); show("summary"); }
  }

  function renderLive(s) {
    const g = s.guidance;
    let hint = HINTS[s.hint] || HINTS.waiting_for_camera;
    if (s.hint === "body_cut" && g && g.cut_at.length) hint += ` (${g.cut_at.map((e) => CUT[e]).join(", ")} cut off)`;
    $("hint").textContent = hint;
    $("phase-label").textContent = s.phase === "recording" ? `Recording · ${s.recording_s.toFixed(0)} s` : `Getting ready · whole body in view ${s.settled}/${s.settle_frames}`;
    $("steps").textContent = s.steps; $("windows").textContent = s.windows_screened; $("target").textContent = s.target_windows;
    $("progress").value = s.decision_progress; $("fps").textContent = s.fps.toFixed(1); $("source").textContent = s.source;
    if (s.browser_camera) drawFrame(null, s);
  }

  function onPreview(blob) {
    const captured = pendingCapture; pendingCapture = null;
    createImageBitmap(blob).then((bmp) => {
      if (previewImg && previewImg.close) previewImg.close();
      previewImg = bmp; drawFrame(bmp, state);
      requestAnimationFrame(() => { if (captured) { stats.latencies.push(Date.now() - captured); if (stats.latencies.length > 5000) stats.latencies.shift(); } stats.previews++; });
    });
  }

  function drawFrame(bmp, s) {
    const c = $("preview"), ctx = c.getContext("2d");
    const src = bmp || (s && s.browser_camera ? $("cam") : null);
    if (src) { const w = src.width || src.videoWidth, h = src.height || src.videoHeight; if (w && h) { c.width = 480; c.height = Math.round(480 * h / w); ctx.drawImage(src, 0, 0, c.width, c.height); } }
    if (!s || !s.keypoints || !s.image_size) return;
    const sx = c.width / s.image_size[0], sy = c.height / s.image_size[1];
    ctx.lineWidth = 4; ctx.strokeStyle = "#30e070"; ctx.fillStyle = "#f0a500";
    for (const [a, b] of BONES) {
      const p = s.keypoints[a], q = s.keypoints[b];
      if (!p || !q || p[0] === null || q[0] === null || isNaN(p[0]) || isNaN(q[0])) continue;
      ctx.beginPath(); ctx.moveTo(p[0] * sx, p[1] * sy); ctx.lineTo(q[0] * sx, q[1] * sy); ctx.stroke();
    }
  }

  function renderSummary(sum, s) {
    const words = { refer: "Refer for a clinical examination", no_referral: "No referral suggested" };
    $("decision-title").textContent = sum.decision ? words[sum.decision] : "No result";
    $("decision-words").textContent = sum.decision === "refer"
      ? "The walk showed signs the model associates with scoliosis. This is not a diagnosis: a clinician should examine the spine."
      : sum.decision === "no_referral" ? "The model found no signs it associates with scoliosis. This rules nothing out: if in doubt, see a clinician."
      : "No result could be given: " + (sum.reason || "not enough good walking was recorded") + ". Try again.";
    $("decision-numbers").textContent = sum.probability_mean === null ? "" :
      `Mean probability ${sum.probability_mean.toFixed(2)} (threshold ${sum.threshold.toFixed(2)}) over ${sum.windows_screened} good walking segments; ${sum.steps} steps.`;
    $("unusual").hidden = !(sum.notes || []).some((n) => n.startsWith("input unlike"));
    const fl = $("features"); fl.replaceChildren();
    for (const f of sum.top_features) { const li = document.createElement("li"); li.textContent = `${f.meaning}` + (f.clinical_prior ? ` — ${f.clinical_prior}` : ""); fl.appendChild(li); }
    if (!sum.top_features.length) fl.innerHTML = "<li>None (no window was screened)</li>";
    const q = $("quality"); q.replaceChildren();
    const QW = { not_walking: "no walking", body_not_fully_visible: "body not fully in view", too_few_gait_cycles: "too few steps" };
    const lines = [`${sum.windows_screened} segments screened, ${sum.windows_skipped} set aside`];
    for (const [k, v] of Object.entries(sum.quality_flags)) lines.push(`${QW[k] || k}: ${v} segment(s)`);
    for (const n of sum.notes || []) lines.push(n);
    lines.push(`Ended by: ${sum.ended_by}`);
    for (const l of lines) { const li = document.createElement("li"); li.textContent = l; q.appendChild(li); }
    $("provenance").textContent = "Model: " + sum.provenance + (sum.simulated_model ? " — this model was trained on SIMULATED walking, not on patients: it has no clinical validity." : "");
    $("notice").textContent = sum.notice;
  }

  function clearSubject() {
    for (const id of ["c-subject", "c-minor", "c-guardian", "c-operator"]) $(id).checked = false;
    $("guardian-row").hidden = true; $("consent-go").disabled = true; $("consent-error").textContent = "";
    for (const id of ["decision-title", "decision-words", "decision-numbers", "provenance", "notice", "hint"]) $(id).textContent = "";
    $("features").replaceChildren(); $("quality").replaceChildren();
    const c = $("preview"); c.getContext("2d").clearRect(0, 0, c.width, c.height);
    if (previewImg && previewImg.close) previewImg.close(); previewImg = null;
  }

  // ----- the page's own camera (--browser-camera): bounded size (640 px) and rate (10/s), newest wins
  async function startCamera() {
    if (camStream || !navigator.mediaDevices) return;
    try {
      camStream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 360 } }, audio: false });
    } catch (e) { $("hint").textContent = "Camera unavailable: " + e.message; return; }
    const v = $("cam"); v.srcObject = camStream; await v.play().catch(() => {});
    const grab = document.createElement("canvas");
    camTimer = setInterval(() => {
      if (!v.videoWidth || !ws || ws.readyState !== 1 || ws.bufferedAmount > 256000) return;
      const scale = Math.min(1, 640 / v.videoWidth);
      grab.width = Math.round(v.videoWidth * scale); grab.height = Math.round(v.videoHeight * scale);
      grab.getContext("2d").drawImage(v, 0, 0, grab.width, grab.height);
      grab.toBlob((b) => { if (b && ws.readyState === 1) { ws.send(b); stats.sentFrames++; } }, "image/jpeg", 0.7);
      drawFrame(null, state);
    }, 100);
  }
  function stopCamera() {
    if (camTimer) clearInterval(camTimer); camTimer = null;
    if (camStream) camStream.getTracks().forEach((t) => t.stop()); camStream = null;
  }

  // ----- consent
  function consentValid() {
    const minor = $("c-minor").checked;
    $("guardian-row").hidden = !minor;
    return $("c-subject").checked && $("c-operator").checked && (!minor || $("c-guardian").checked);
  }
  for (const id of ["c-subject", "c-minor", "c-guardian", "c-operator"]) $(id).addEventListener("change", () => { $("consent-go").disabled = !consentValid(); });
  $("welcome-next").onclick = () => { localScreen = "consent"; show("consent"); };
  $("consent-back").onclick = () => { localScreen = "welcome"; clearSubject(); show("welcome"); };
  $("consent-go").onclick = () => {
    if (!consentValid()) return;
    send({ type: "begin", consent: { operator_confirms: true, subject_is_minor: $("c-minor").checked, subject_consents: true, guardian_consents: $("c-guardian").checked } });
  };
  $("live-stop").onclick = () => send({ type: "stop" });
  $("next").onclick = () => { clearSubject(); localScreen = "welcome"; send({ type: "next" }); show("welcome"); };
  $("print").onclick = () => window.print();

  // ----- operator panel
  let pinValue = "";
  $("operator-open").onclick = () => { $("operator").showModal(); $("pin").focus(); };
  $("pin-go").onclick = (e) => { e.preventDefault(); pinValue = $("pin").value; send({ type: "operator", pin: pinValue }); };
  $("operator-close").onclick = () => { $("panel").hidden = true; $("pin").value = ""; pinValue = ""; };
  function onOperator(msg) {
    if (!msg.ok) { $("pin-error").textContent = msg.message; return; }
    $("pin-error").textContent = ""; $("panel").hidden = false;
    const p = msg.panel, dl = $("panel-list"); dl.replaceChildren();
    const rows = [["Model", p.model], ["Bundle", p.bundle], ["Camera", p.source], ["Camera status", p.source_status], ["Sessions today", p.sessions_today],
      ["Decisions", Object.entries(p.decisions).map(([k, v]) => `${k}: ${v}`).join(", ") || "none"]];
    for (const [k, v] of rows) { const dt = document.createElement("dt"); dt.textContent = k; const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); }
  }
  async function exportDay(fmt) {
    const q = token ? `?token=${encodeURIComponent(token)}` : "";
    const r = await fetch(`/api/export${q}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pin: pinValue, format: fmt }) });
    if (!r.ok) { $("pin-error").textContent = await r.text(); return; }
    const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const a = document.createElement("a"); a.href = URL.createObjectURL(await r.blob()); a.download = name ? name[1] : `screening.${fmt}`;
    document.body.appendChild(a); a.click(); a.remove(); setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  $("export-csv").onclick = (e) => { e.preventDefault(); exportDay("csv"); };
  $("export-jsonl").onclick = (e) => { e.preventDefault(); exportDay("jsonl"); };

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && stats.screen === "live") send({ type: "stop" });
  });
  connect();
})();
