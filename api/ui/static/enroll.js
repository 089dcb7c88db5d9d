// Enrollment in the browser: a challenge, the statement recorded, the voice recorded or uploaded,
// then POST /v1/profiles with them; the API runs every check and says why it refused.
"use strict";
(() => {
  const api = window.voicekit;
  const takes = {consent: null, reference: null};  // the latest WAV Blob of each recorder
  let challenge = null;

  function wav(chunks, rate) {
    // 16-bit PCM, mono: the enrollment checks hear exactly what was recorded, no lossy codec.
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const view = new DataView(new ArrayBuffer(44 + 2 * length));
    const text = (at, s) => { for (let i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVE"); text(12, "fmt ");
    view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true); view.setUint16(32, 2, true);
    view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, 2 * length, true);
    let at = 44;
    for (const chunk of chunks) {
      for (const x of chunk) { view.setInt16(at, Math.max(-1, Math.min(1, x)) * 0x7fff, true); at += 2; }
    }
    return new Blob([view], {type: "audio/wav"});
  }

  function recorder(box) {
    const record = box.querySelector(".record"), stop = box.querySelector(".stop");
    const meter = box.querySelector(".level"), take = box.querySelector(".take"), info = box.querySelector(".take-info");
    let session = null;
    record.addEventListener("click", async () => {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
        const context = new AudioContext();
        await context.audioWorklet.addModule("/ui/static/capture-worklet.js");
        const source = context.createMediaStreamSource(stream);
        const capture = new AudioWorkletNode(context, "voicekit-capture");
        const analyser = context.createAnalyser();
        const chunks = [];
        capture.port.onmessage = (event) => chunks.push(event.data);
        source.connect(capture); source.connect(analyser);
        const levels = new Float32Array(analyser.fftSize);
        const timer = setInterval(() => {
          analyser.getFloatTimeDomainData(levels);
          let sum = 0; for (const x of levels) sum += x * x;
          meter.value = Math.min(1, Math.sqrt(sum / levels.length) * 4);
        }, 100);
        session = {stream, context, chunks, timer};
        record.disabled = true; stop.disabled = false; stop.focus();
        api.show(info, "Recording…");
      } catch (e) {
        api.show(info, `The microphone could not be opened: ${e.message}`);
      }
    });
    stop.addEventListener("click", async () => {
      if (!session) return;
      const {stream, context, chunks, timer} = session;
      session = null;
      clearInterval(timer);
      stream.getTracks().forEach((t) => t.stop());
      const rate = context.sampleRate;
      await context.close();
      const blob = wav(chunks, rate);
      takes[box.dataset.target] = blob;
      take.src = URL.createObjectURL(blob); take.hidden = false;
      const seconds = chunks.reduce((n, c) => n + c.length, 0) / rate;
      api.show(info, `Recorded ${seconds.toFixed(1)} s. Listen back, or record again to replace it.`);
      record.textContent = "Record again"; record.disabled = false; stop.disabled = true; meter.value = 0;
      if (box.dataset.target === "consent") document.getElementById("reference-step").hidden = false;
    });
  }
  document.querySelectorAll(".recorder").forEach(recorder);

  document.getElementById("challenge-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = document.getElementById("person").value.trim();
    try {
      challenge = await api.json("POST", "/v1/consent/challenges", {name});
    } catch (e) {
      alert(e.message);
      return;
    }
    document.getElementById("phrase").textContent = challenge.phrase;
    document.getElementById("expires").textContent = new Date(challenge.expires_at * 1000).toLocaleTimeString();
    document.getElementById("statement").hidden = false;
    document.getElementById("consent-step").hidden = false;
  });

  document.getElementById("enroll").addEventListener("click", async () => {
    const outcome = document.getElementById("outcome"), text = document.getElementById("outcome-text");
    const failures = document.getElementById("failures");
    outcome.hidden = false; failures.replaceChildren(); document.getElementById("sample").hidden = true;
    const uploads = Array.from(document.getElementById("uploads").files);
    if (!challenge || !takes.consent) { api.show(text, "Record the statement first."); return; }
    if (!takes.reference && !uploads.length) { api.show(text, "Record or upload the voice first."); return; }
    const form = new FormData();
    form.append("challenge_id", challenge.challenge_id);
    form.append("name", document.getElementById("person").value.trim());
    form.append("scopes", Array.from(document.querySelectorAll("input[name=scope]:checked")).map((c) => c.value).join(","));
    form.append("consent", takes.consent, "consent.wav");
    if (takes.reference) form.append("references", takes.reference, "reference.wav");
    uploads.forEach((file) => form.append("references", file, file.name));
    api.show(text, "Checking the recordings and fitting the voice (about half a minute)…");
    try {
      const profile = await api.json("POST", "/v1/profiles", form);
      api.show(text, `Enrolled: every check passed. The new voice is ${profile.voice_id}.`);
      const link = document.getElementById("profile-link");
      link.href = `/ui/profiles/${profile.voice_id}`;
      const sample = document.getElementById("sample");
      sample.hidden = false; sample.dataset.voice = profile.voice_id;
    } catch (e) {
      api.show(text, `Not enrolled: ${e.problem && e.problem.failures ? "these checks failed" : e.message}`);
      (e.problem && e.problem.failures || []).forEach((line) => {
        const item = document.createElement("li"); item.textContent = line; failures.append(item);
      });
    }
  });

  document.getElementById("hear").addEventListener("click", async () => {
    const voice = document.getElementById("sample").dataset.voice;
    const player = document.getElementById("sample-audio");
    try {
      const response = await api.call("POST", "/v1/speech",
        {text: "Hello. This is my voice, speaking with my consent.", voice, format: "mp3"});
      player.src = URL.createObjectURL(await response.blob());
      player.hidden = false; player.play().catch(() => {});
    } catch (e) {
      api.show(document.getElementById("outcome-text"), `The sample was refused: ${e.message}`);
    }
  });
})();
