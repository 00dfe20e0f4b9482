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
      let link = img.closest("a");
      if (link && !link.classList.contains("image-reference")) return;   // a link to elsewhere
      if (!link) {
        link = document.createElement("a");
        link.href = img.currentSrc || img.src;
        img.parentNode.insertBefore(link, img);
        link.appendChild(img);
      }
      if (link.querySelector(".qmri-enlarge-hint")) return;
      link.classList.add("qmri-enlarge");
      link.title = "Open the full-size figure";
      const hint = document.createElement("span");
      hint.className = "qmri-enlarge-hint";
      hint.setAttribute("aria-hidden", "true");   // the link's title says it to screen readers
      hint.textContent = "Enlarge";
      link.appendChild(hint);
    });
  }
  // Sidebar toggles. pydata-sphinx-theme 0.17 (and sphinx-book-theme 1.3) bind their click
  // handlers to the FIRST `.primary-toggle` / `.secondary-toggle` in the page, which since
  // pydata-sphinx-theme 0.17.0 is a hidden button in the top navbar; the visible buttons in
  // the article header get no handler and navigation is dead below 992 px (upstream
  // pydata-sphinx-theme issue 2451, sphinx-book-theme issues 935 and 991). This handler
  // listens on the document in the capture phase, so it runs before (and instead of) any
  // handler bound by the theme, for every toggle: it keeps working whether or not a later
  // theme release binds the right button. It does nothing (the theme's own handler runs)
  // if the sidebar or its modal dialog is missing from the page.
  function moveInto(from, to) {
    Array.from(from.childNodes).forEach(function (n) { to.appendChild(n); });
    Array.from(from.classList).forEach(function (c) { from.classList.remove(c); to.classList.add(c); });
  }
  function openDrawer(sidebar, modal, button) {
    if (modal.open) return;
    moveInto(sidebar, modal);
    modal.showModal();
    modal.addEventListener("close", function () {
      moveInto(modal, sidebar);
      if (button && button.focus) button.focus();
    }, {once: true});
  }
  function bindToggles() {
    [["primary", "#pst-primary-sidebar", "#pst-primary-sidebar-modal"],
     ["secondary", "#pst-secondary-sidebar", "#pst-secondary-sidebar-modal"]].forEach(function (t) {
      const modal = document.querySelector(t[2]);
      if (modal && !modal.dataset.qmriBound) {
        modal.dataset.qmriBound = "1";
        // a click on the backdrop (the dialog element itself) closes the drawer
        modal.addEventListener("click", function (e) { if (e.target === modal) modal.close(); });
      }
    });
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest(".primary-toggle, .secondary-toggle");
    if (!button) return;
    const kind = button.classList.contains("primary-toggle") ? "primary" : "secondary";
    const sidebar = document.getElementById("pst-" + kind + "-sidebar");
    const modal = document.getElementById("pst-" + kind + "-sidebar-modal");
    if (!sidebar || !modal || typeof modal.showModal !== "function") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    button.blur();
    bindToggles();
    // on a wide screen the primary toggle collapses / restores the sidebar in place
    if (kind === "primary" && window.matchMedia("(min-width: 992px)").matches) {
      sidebar.classList.toggle("pst-sidebar-hidden");
      return;
    }
    openDrawer(sidebar, modal, button);
  }, true);

  // A block marked `:::{div} qmri-foldable` in MyST (its first paragraph is the label) is
  // folded: a long table with a short summary above it. Print moves it to the appendix.
  function foldBlocks(root) {
    root.querySelectorAll("div.qmri-foldable").forEach(function (div) {
      const details = document.createElement("details");
      details.className = "qmri-fold";
      const summary = document.createElement("summary");
      const label = div.querySelector(":scope > p");
      summary.textContent = label ? label.textContent.trim() : "Show the complete table";
      if (label) label.remove();
      details.appendChild(summary);
      while (div.firstChild) details.appendChild(div.firstChild);
      div.replaceWith(details);
    });
  }
  // A table's caption goes above it, as journals print it: first in its figure, so that on
  // paper it is kept with the table's first rows (print.css: break-after: avoid).
  function captionsFirst(root) {
    root.querySelectorAll("figure").forEach(function (fig) {
      const cap = fig.querySelector(":scope > figcaption");
      if (cap && fig.querySelector("table") && fig.firstElementChild !== cap) fig.insertBefore(cap, fig.firstChild);
    });
  }
  function run() {
    const article = document.querySelector(".bd-article") || document.body;
    captionsFirst(article);
    foldBlocks(article);
    wrapTables(article);
    enlargeFigures(article);
    statusWords(article);
  }
  // The execution table (myst-nb's nb-exec-table) marks success with emoji that no font of a
  // plain Linux print machine has (they print as empty boxes): say it in words, with marks
  // that DejaVu Sans has.
  function statusWords(root) {
    root.querySelectorAll("td").forEach(function (td) {
      const t = td.textContent.trim();
      if (t === "\u2705") td.textContent = "\u2713 yes";
      else if (t === "\u274c") td.textContent = "\u2717 no";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run);
  else run();
})();
