// Keyboard navigation, speaker notes and the speaker view, with no library:
// the page must work opened from disk with the network off.
(() => {
  "use strict";
  const slides = Array.from(document.querySelectorAll(".slide"));
  const progress = document.getElementById("progress");
  const help = document.getElementById("help");
  const speakerMode = new URLSearchParams(location.search).has("speaker");
  let current = 0;
  // The other window of a speaker/audience pair, kept in step by messages.
  let partner = speakerMode ? window.opener : null;
  const started = Date.now();

  const fromHash = () => {
    const n = parseInt(location.hash.replace("#", ""), 10);
    return Number.isFinite(n) ? Math.min(Math.max(n, 1), slides.length) - 1 : 0;
  };

  const elapsed = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  };

  const show = (index, tell = true) => {
    current = Math.min(Math.max(index, 0), slides.length - 1);
    slides.forEach((slide, i) => {
      slide.classList.toggle("active", i === current);
      slide.classList.toggle("next", speakerMode && i === current + 1);
    });
    progress.textContent = speakerMode
      ? `${current + 1} / ${slides.length} · ${elapsed()}`
      : `${current + 1} / ${slides.length}`;
    if (location.hash !== `#${current + 1}`) {
      history.replaceState(null, "", `#${current + 1}`);
    }
    if (tell && partner && !partner.closed) {
      partner.postMessage({ slide: current }, "*");
    }
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    switch (event.key) {
      case "ArrowRight": case "ArrowDown": case "PageDown": case " ": case "l": case "j":
        show(current + 1); break;
      case "ArrowLeft": case "ArrowUp": case "PageUp": case "Backspace": case "h": case "k":
        show(current - 1); break;
      case "Home": show(0); break;
      case "End": show(slides.length - 1); break;
      case "n": document.body.classList.toggle("show-notes"); break;
      case "s":
        if (!speakerMode) {
          partner = window.open(`${location.pathname}?speaker#${current + 1}`, "speaker");
        }
        break;
      case "p": window.print(); break;
      case "?": help.hidden = !help.hidden; break;
      default: return;
    }
    event.preventDefault();
  });

  window.addEventListener("message", (event) => {
    if (event.data && Number.isInteger(event.data.slide)) {
      if (!partner) partner = event.source;
      show(event.data.slide, false);
    }
  });
  window.addEventListener("hashchange", () => show(fromHash()));

  if (speakerMode) {
    document.body.classList.add("speaker");
    setInterval(() => show(current, false), 1000);
  }
  show(fromHash(), false);
})();
