// Word highlighting: the word whose time span holds the player's position is marked as it plays.
// Streaming: POST /v1/speech with "stream": true (16-bit PCM, one gated sentence at a time), each
// piece scheduled on the Web Audio clock as it arrives, so a long text starts playing at once.
"use strict";
(() => {
  const form = document.getElementById("speak-form");
  const toggle = document.getElementById("stream");
  toggle.closest("label").hidden = false;
  const RATE = 24000;
  let playing = null;

  async function stream() {
    const api = window.voicekit, state = document.getElementById("stream-state");
    const section = document.getElementById("streamed");
    const data = new FormData(form);
    const text = data.get("text");
    const body = {voice: data.get("voice"), format: "pcm", stream: true, sample_rate: RATE,
                  rate: parseFloat(data.get("rate")), pitch: parseFloat(data.get("pitch"))};
    body[data.get("ssml") ? "ssml" : "text"] = text;
    if (data.get("style")) body.style = data.get("style");
    section.hidden = false;
    api.show(state, "Speaking the first sentence…");
    if (playing) playing.close();
    const context = new AudioContext({sampleRate: RATE});
    playing = context;
    const heard = {pieces: 0, seconds: 0, startedAt: null};
    window.voicekitStream = heard;
    try {
      const response = await api.call("POST", "/v1/speech", body);
      document.getElementById("stream-mark-id").textContent = response.headers.get("X-Voicekit-Mark-Id");
      document.getElementById("stream-ledger-seq").textContent = response.headers.get("X-Voicekit-Ledger-Seq") || "";
      const reader = response.body.getReader();
      let at = context.currentTime + 0.05, carry = new Uint8Array(0);
      for (;;) {
        const {value, done} = await reader.read();
        if (done || context.state === "closed") break;
        const bytes = new Uint8Array(carry.length + value.length);
        bytes.set(carry); bytes.set(value, carry.length);
        const whole = bytes.length - (bytes.length % 2);
        carry = bytes.slice(whole);
        if (!whole) continue;
        const samples = new Int16Array(bytes.buffer.slice(0, whole));
        const buffer = context.createBuffer(1, samples.length, RATE);
        buffer.getChannelData(0).set(Float32Array.from(samples, (x) => x / 32768));
        const source = context.createBufferSource();
        source.buffer = buffer; source.connect(context.destination);
        at = Math.max(at, context.currentTime + 0.02);
        source.start(at);
        if (heard.startedAt === null) heard.startedAt = performance.now();
        at += buffer.duration; heard.pieces += 1; heard.seconds += buffer.duration;
        api.show(state, `Playing: ${heard.seconds.toFixed(1)} s received`);
      }
      if (context.state !== "closed") api.show(state, `All ${heard.seconds.toFixed(1)} s received`);
    } catch (e) {
      api.show(state, `Refused: ${e.message}`);
    }
  }

  form.addEventListener("submit", (event) => {
    if (!toggle.checked) return;  // a plain form post: the page comes back with the audio
    event.preventDefault();
    stream();
  });
  document.getElementById("stream-stop").addEventListener("click", () => { if (playing) playing.close(); });

  const player = document.getElementById("player");
  const words = Array.from(document.querySelectorAll("#words span"));
  if (!player || !words.length) return;
  const spans = words.map((w) => [parseFloat(w.dataset.start), parseFloat(w.dataset.end)]);
  let current = null;
  function mark() {
    const t = player.currentTime;
    const index = spans.findIndex(([start, end]) => t >= start && t < end);
    const next = index >= 0 ? words[index] : null;
    if (next === current) return;
    if (current) current.classList.remove("spoken");
    if (next) next.classList.add("spoken");
    current = next;
  }
  player.addEventListener("timeupdate", mark);
  player.addEventListener("seeked", mark);
  player.addEventListener("ended", () => { if (current) current.classList.remove("spoken"); current = null; });
  // timeupdate fires about 4 times a second: follow the clock more closely while playing.
  player.addEventListener("play", function follow() {
    mark();
    if (!player.paused && !player.ended) requestAnimationFrame(follow);
  });
  document.getElementById("result").scrollIntoView({block: "nearest"});
  player.focus();
})();
