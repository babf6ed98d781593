// Small helps on every page, each switched on by markup; the pages read fine without them.
//  - [data-outline=SELECTOR]: an outline of the sections of SELECTOR that marks the one in view.
//  - table[data-stack]: on a phone the table's rows stack, each cell labelled by its column.
//  - time[data-local]: a moment shown in the reader's own time zone (the server wrote UTC).
(function () {
  "use strict";
  const WIDE = window.matchMedia ? window.matchMedia("(min-width: 70rem)") : null;

  function slug(text) {
    return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "section";
  }

  // The sections of a page and the text that names each, in document order.
  function sectionsOf(root) {
    if (root.tagName === "FORM") {
      return Array.from(root.children)
        .filter((el) => el.tagName === "FIELDSET" && el.querySelector(":scope > legend"))
        .map((el) => ({ el, name: el.querySelector(":scope > legend").textContent.trim() }));
    }
    return Array.from(root.children)
      .filter((el) => el.tagName === "SECTION" && !el.hidden && el.querySelector("h2"))
      .map((el) => ({ el, name: el.querySelector("h2").textContent.trim() }));
  }

  function buildOutline(nav) {
    const root = document.querySelector(nav.dataset.outline);
    if (!root) return;
    const sections = sectionsOf(root);
    if (sections.length < 3) return;
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const current = document.createElement("span");
    current.className = "outline-current";
    summary.append(nav.dataset.outlineLabel || "On this page", current);
    const list = document.createElement("ol");
    const links = new Map();
    const used = new Set();
    sections.forEach(({ el, name }) => {
      if (!el.id) {
        let id = `section-${slug(name)}`;
        while (used.has(id) || document.getElementById(id)) id += "-";
        el.id = id;
      }
      used.add(el.id);
      const a = document.createElement("a");
      a.href = `#${el.id}`;
      a.textContent = name;
      a.addEventListener("click", () => { if (!WIDE || !WIDE.matches) details.open = false; });
      const li = document.createElement("li");
      li.append(a);
      list.append(li);
      links.set(el, a);
    });
    details.append(summary, list);
    nav.replaceChildren(details);
    nav.hidden = false;
    root.classList.add("has-outline");
    if (nav.parentElement !== root) nav.parentElement.classList.add("has-outline");

    const place = () => { details.open = Boolean(WIDE && WIDE.matches); };
    place();
    if (WIDE && WIDE.addEventListener) WIDE.addEventListener("change", place);

    function mark(el) {
      links.forEach((a, section) => {
        if (section === el) a.setAttribute("aria-current", "true");
        else a.removeAttribute("aria-current");
      });
      current.textContent = el ? `: ${links.get(el).textContent}` : "";
    }
    if (!("IntersectionObserver" in window)) return;
    // A section counts as "in view" while it crosses a band near the top of the screen;
    // the first such section (in page order) is the one being read.
    const crossing = new Set();
    const observer = new IntersectionObserver(
      (entries) => {
        entries.forEach((e) => (e.isIntersecting ? crossing.add(e.target) : crossing.delete(e.target)));
        const first = sections.find(({ el }) => crossing.has(el));
        if (first) mark(first.el);
      },
      { rootMargin: "-15% 0px -60% 0px" }
    );
    sections.forEach(({ el }) => observer.observe(el));
    mark(sections[0].el);
  }

  function labelStackedTable(table) {
    const headers = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((tr) => {
      Array.from(tr.children).forEach((cell, i) => {
        if (cell.tagName === "TD" && headers[i] && !cell.dataset.label) cell.dataset.label = headers[i];
      });
    });
    table.classList.add("stack-narrow");
    const scroller = table.closest(".table-scroll");
    if (scroller) scroller.classList.add("stacked");
  }

  function localTime(el) {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    const options = {
      day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short",
    };
    if (el.dataset.local === "seconds") options.second = "2-digit";
    const lang = document.documentElement.lang || undefined;
    if (!el.title) el.title = el.textContent.trim(); // the UTC text stays one hover away
    el.textContent = new Intl.DateTimeFormat(lang, options).format(when);
  }

  document.querySelectorAll("nav[data-outline]").forEach(buildOutline);
  document.querySelectorAll("table[data-stack]").forEach(labelStackedTable);
  if (window.Intl) document.querySelectorAll("time[data-local]").forEach(localTime);
})();
