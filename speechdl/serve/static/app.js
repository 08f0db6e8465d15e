// The page: models from GET /v1/tasks, their declared options as form inputs, uploads or recordings,
// POST /v1/{name}, the result drawn by render.js. Nothing here names a task.
"use strict";
(function () {
  const SD = window.SD, $ = (id) => document.getElementById(id);
  const state = { models: [], model: null, inputs: [], live: null };
  const LABELS = { audio: ["audio"], audio_pair: ["first recording", "second recording"] };
  const FIELDS = { audio: ["audio"], audio_pair: ["audio", "audio2"] };

  function setStatus(text, phase) { $("status").textContent = text; document.body.dataset.state = phase; }
  function showError(err) {
    const box = $("error");
    box.hidden = !err;
    box.textContent = err ? `${err.type}: ${err.message}` : "";
  }

  async function loadModels() {
    setStatus("loading models…", "loading");
    try {
      const r = await fetch("/v1/tasks");
      const body = await r.json();
      if (!r.ok) throw body.error || { type: "error", message: r.statusText };
      state.models = body.models;
    } catch (err) {
      showError(err.type ? err : { type: "network", message: String(err) }); setStatus("", "error"); return;
    }
    const sel = $("model");
    for (const m of state.models) {
      const opt = SD.el("option", { value: m.name, text: m.error ? `${m.name} (unavailable)` : `${m.name} (${m.task})` });
      if (m.error) opt.disabled = true;
      sel.append(opt);
    }
    const wanted = new URLSearchParams(location.hash.slice(1)).get("model");
    const first = state.models.find((m) => m.name === wanted && !m.error) || state.models.find((m) => !m.error);
    if (first) sel.value = first.name;
    sel.onchange = () => choose(sel.value);
    if (first) choose(first.name); else setStatus("no model can be loaded", "error");
  }

  function optionInput(o) {
    const id = `opt-${o.name}`;
    const title = o.help + (o.minimum !== undefined || o.maximum !== undefined ? ` [${o.minimum ?? "-∞"}, ${o.maximum ?? "∞"}]` : "");
    if (o.kind === "bool") {
      const box = SD.el("input", { type: "checkbox", id, name: o.name });
      box.checked = o.default === true;
      return SD.el("label", { class: "bool", title }, box, o.name);
    }
    let input;
    if (o.choices) {
      input = SD.el("select", { id, name: o.name }, SD.el("option", { value: "", text: o.default != null ? `${o.default} (default)` : "(default)" }));
      for (const c of o.choices) if (c !== o.default) input.append(SD.el("option", { value: c, text: c }));
    } else if (o.kind === "float" || o.kind === "int") {
      input = SD.el("input", { type: "number", id, name: o.name, step: o.kind === "int" ? "1" : "any",
        placeholder: o.default != null ? String(o.default) : "bundle default" });
      if (o.minimum !== undefined) input.min = o.minimum;
      if (o.maximum !== undefined) input.max = o.maximum;
    } else {
      input = SD.el("input", { type: "text", id, name: o.name, placeholder: o.default != null ? String(o.default) : "" });
    }
    return SD.el("label", { title }, o.name, input);
  }

  function optionValues() {
    const out = {};
    for (const o of state.model.options) {
      const input = $(`opt-${o.name}`);
      if (!input) continue;
      if (o.kind === "bool") { if (input.checked !== (o.default === true)) out[o.name] = input.checked ? "true" : "false"; }
      else if (input.value !== "") out[o.name] = input.value;
    }
    return out;
  }

  function inputRow(field, label) {
    const file = SD.el("input", { type: "file", id: `file-${field}`, accept: "audio/*,.wav,.flac,.ogg,.mp3,.aiff,.au" });
    const rec = SD.el("button", { type: "button", class: "secondary", id: `rec-${field}`, text: "Record" });
    const canvas = SD.el("canvas", { class: "wave", id: `wave-${field}` });
    const info = SD.el("span", { class: "muted", id: `info-${field}` });
    const slot = { field, canvas, blob: null, filename: null, wave: undefined };
    file.onchange = () => { if (file.files[0]) use(slot, file.files[0], file.files[0].name); };
    rec.onclick = async () => {
      if (slot.recorder) {
        const { blob, samples, rate } = slot.recorder.stop();
        slot.recorder = null; rec.textContent = "Record"; rec.classList.remove("recording");
        use(slot, blob, "recording.wav", { samples, duration: samples.length / rate });
        return;
      }
      try { slot.recorder = await SD.record(); } catch (err) { showError({ type: "microphone", message: String(err) }); return; }
      rec.textContent = "Stop"; rec.classList.add("recording");
    };
    state.inputs.push(slot);
    return SD.el("div", { class: "input-row" },
      SD.el("div", { class: "controls" }, SD.el("span", { class: "name", text: label }), file, rec, info), canvas);
  }

  async function use(slot, blob, filename, wave) {
    slot.blob = blob; slot.filename = filename;
    $(`info-${slot.field}`).textContent = `${filename} · ${(blob.size / 1024).toFixed(0)} KiB`;
    if (!wave) {
      try {
        const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(await blob.arrayBuffer());
        wave = { samples: decoded.getChannelData(0), duration: decoded.duration };
      } catch (err) { wave = null; }
    }
    slot.wave = wave;
    SD.drawWave(slot.canvas, wave, [], wave && wave.duration);
    updateRun();
  }

  function updateRun() {
    const m = state.model;
    const ready = m && (m.inputs === "text" ? $("text") && $("text").value.trim() !== "" : state.inputs.every((s) => s.blob));
    $("run").disabled = !ready;
  }

  function choose(name) {
    state.model = state.models.find((m) => m.name === name);
    const m = state.model;
    history.replaceState(null, "", `#model=${encodeURIComponent(name)}`);
    $("model-desc").textContent = `${m.description || ""} (${m.inputs}${m.sample_rate ? `, ${m.sample_rate} Hz` : ""}${m.streaming ? ", streams" : ""})`;
    $("options").replaceChildren(...m.options.map(optionInput));
    state.inputs = [];
    const box = $("inputs");
    if (m.inputs === "text") {
      const ta = SD.el("textarea", { id: "text", placeholder: "text" });
      ta.oninput = updateRun;
      box.replaceChildren(ta);
    } else {
      box.replaceChildren(...(FIELDS[m.inputs] || ["audio"]).map((f, i) => inputRow(f, (LABELS[m.inputs] || ["audio"])[i])));
    }
    $("live").hidden = !m.streaming;
    $("result-card").hidden = true;
    showError(null); setStatus("", "ready"); updateRun();
  }

  async function run() {
    const m = state.model;
    showError(null); setStatus("running…", "running"); $("run").disabled = true;
    const t0 = performance.now();
    try {
      let init;
      if (m.inputs === "text") {
        init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: $("text").value, ...optionValues() }) };
      } else {
        const form = new FormData();
        for (const s of state.inputs) form.append(s.field, s.blob, s.filename);
        for (const [k, v] of Object.entries(optionValues())) form.append(k, v);
        init = { method: "POST", body: form };
      }
      const r = await fetch(`/v1/${encodeURIComponent(m.name)}`, init);
      const body = await r.json().catch(() => ({ error: { type: `http_${r.status}`, message: r.statusText } }));
      if (!r.ok) throw body.error;
      $("result-card").hidden = false;
      SD.renderResult($("result"), body, state.inputs);
      $("raw").textContent = JSON.stringify(body, null, 2);
      setStatus(`done in ${Math.round(performance.now() - t0)} ms`, "done");
    } catch (err) {
      showError(err && err.type ? err : { type: "network", message: String(err) }); setStatus("", "error");
    } finally { updateRun(); }
  }

  async function live() {
    const btn = $("live"), m = state.model;
    if (state.live) { state.live.stop(); state.live = null; btn.textContent = "Live (stream)"; return; }
    const slot = state.inputs[0], series = [];
    showError(null);
    try {
      state.live = await SD.live(m.name, m.sample_rate, optionValues(), (msg) => {
        if (msg.event === "error") { showError(msg.error); return; }
        const arr = Object.values(msg).find((v) => Array.isArray(v) && v.length && typeof v[0] === "number");
        if (arr) series.push(...arr);
        const last = series.slice(-1000);   // the latest frames as a curve across the canvas
        SD.drawWave(slot.canvas, undefined, [], last.length, { values: last, hop: 1 });
        setStatus(`streaming: ${series.length} frames`, "streaming");
      });
      btn.textContent = "Stop";
    } catch (err) { showError({ type: "microphone", message: String(err) }); }
  }

  $("run").onclick = run;
  $("live").onclick = live;
  loadModels();
})();
