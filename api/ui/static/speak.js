// Word highlighting: the word whose time span holds the player's position is marked as it plays.
"use strict";
(() => {
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
