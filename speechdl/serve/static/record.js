// Microphone: record to a 16-bit mono WAV (WebAudio, no codec needed on the server) and stream live
// to /v1/{name}/stream (float32 PCM at the model's rate; the AudioContext resamples the microphone).
"use strict";
(function () {
  const SD = (window.SD = window.SD || {});

  SD.encodeWav = function (samples, rate) {
    const buf = new ArrayBuffer(44 + samples.length * 2), v = new DataView(buf);
    const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
    str(0, "RIFF"); v.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE"); str(12, "fmt ");
    v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, rate, true);
    v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
    str(36, "data"); v.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      v.setInt16(44 + 2 * i, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buf], { type: "audio/wav" });
  };

  // open the microphone; onFrame(Float32Array) per 4096 samples; returns {rate, stop()}
  SD.openMic = async function (onFrame, rate) {
    const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
    const ctx = rate ? new AudioContext({ sampleRate: rate }) : new AudioContext();
    const source = ctx.createMediaStreamSource(media);
    const node = ctx.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (e) => onFrame(new Float32Array(e.inputBuffer.getChannelData(0)));
    source.connect(node); node.connect(ctx.destination);
    return {
      rate: ctx.sampleRate,
      stop() { node.disconnect(); source.disconnect(); media.getTracks().forEach((t) => t.stop()); ctx.close(); },
    };
  };

  // record until stop(); resolves to {blob (WAV), samples, rate}
  SD.record = async function () {
    const parts = [];
    const mic = await SD.openMic((x) => parts.push(x));
    return {
      stop() {
        mic.stop();
        const n = parts.reduce((a, p) => a + p.length, 0), all = new Float32Array(n);
        let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
        return { blob: SD.encodeWav(all, mic.rate), samples: all, rate: mic.rate };
      },
    };
  };

  // live: stream the microphone to a streaming model; onMessage(json) per server message
  SD.live = async function (name, rate, options, onMessage) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/v1/${encodeURIComponent(name)}/stream`);
    ws.binaryType = "arraybuffer";
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error("WebSocket failed")); });
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    ws.send(JSON.stringify({ event: "start", format: "f32", sample_rate: rate, options }));
    const mic = await SD.openMic((x) => { if (ws.readyState === 1) ws.send(x.buffer); }, rate);
    return {
      stop() { mic.stop(); if (ws.readyState === 1) ws.send(JSON.stringify({ event: "end" })); },
    };
  };
})();
