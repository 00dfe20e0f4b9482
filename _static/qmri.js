/* qmrigenes book: wrap every table wider than its column in a scroll box, and make
   figures open at full size on click. Loaded on every page by jupyter-book. */
(function () {
  "use strict";
  // On a first visit localStorage has no colour mode, the theme's head script sets
  // data-mode="" and the theme then logs "Got invalid theme mode" as a console error.
  // Runs before the theme's deferred script: fall back to "auto" (the theme's default).
  const root = document.documentElement;
  if (!root.dataset.mode) root.dataset.mode = "auto";
  function inScrollBox(el) {
    for (let p = el.parentElement; p && !p.classList.contains("bd-article"); p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === "auto" || ox === "scroll") return true;
    }
    return false;
  }
  function wrapTables(root) {
    root.querySelectorAll("table").forEach(function (table) {
      if (inScrollBox(table)) return;
      const box = document.createElement("div");
      box.className = "qmri-scroll";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
  }
  function enlargeFigures(root) {
    root.querySelectorAll("img").forEach(function (img) {
      if (img.closest("a")) return;
      const link = document.createElement("a");
      link.href = img.currentSrc || img.src;
      link.className = "qmri-enlarge";
      link.title = "Open the full-size figure";
      img.parentNode.insertBefore(link, img);
      link.appendChild(img);
    });
  }
  function run() {
    const article = document.querySelector(".bd-article") || document.body;
    wrapTables(article);
    enlargeFigures(article);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
