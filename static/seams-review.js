// The writing assistant beside the review form: live Markdown preview (rendered by the
// server with the same sanitiser as the review page), blameless-language hints, suggested
// patterns and similar incidents. The form works without it; this only adds help.
(function () {
  "use strict";
  const form = document.getElementById("review-form");
  const panel = document.getElementById("assistant");
  if (!form || !panel || !window.fetch) return;
  panel.hidden = false;

  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const incident = form.dataset.incident || null;
  const SECTIONS = ["summary", "impact", "narrative", "went_well", "where_lucky"];
  const LABELS = { summary: "Summary", impact: "Impact", narrative: "Narrative",
    went_well: "What went well", where_lucky: "Where we got lucky",
    factors: "Contributing factors", timeline: "Timeline" };
  let lastMarkdownField = form.querySelector("textarea[name=summary]");

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
      body: JSON.stringify(body),
    }).then((r) => (r.ok ? r.json() : Promise.reject(r.status)));
  }

  function joined(selector) {
    return Array.from(form.querySelectorAll(selector)).map((el) => el.value).filter(Boolean)
      .join("\n");
  }

  function sections() {
    const out = { title: (form.querySelector("[name=title]") || {}).value || "" };
    SECTIONS.forEach((name) => {
      const el = form.querySelector(`[name=${name}]`);
      if (el) out[name] = el.value;
    });
    out.factors = joined("textarea[name^=factors-][name$=-text]");
    out.timeline = joined("[name^=timeline-][name$=-text], [name^=timeline-][name$=-why_reasonable]");
    return out;
  }

  function item(text, className) {
    const li = document.createElement("li");
    if (className) li.className = className;
    li.textContent = text;
    return li;
  }

  function renderHints(hints) {
    const list = document.getElementById("live-hints");
    list.replaceChildren();
    Object.entries(hints).forEach(([section, found]) => {
      found.forEach((hint) => {
        const li = document.createElement("li");
        li.className = "hint";
        const head = document.createElement("strong");
        head.textContent = `${LABELS[section] || section}: “${hint.excerpt}”`;
        const why = document.createElement("p");
        why.textContent = hint.why;
        const fix = document.createElement("p");
        fix.className = "muted";
        fix.textContent = hint.suggestion;
        li.append(head, why, fix);
        list.append(li);
      });
    });
    if (!list.children.length) list.append(item("No hints so far.", "empty"));
  }

  // Seams' evidence for a pattern, shown beside the rationale the author writes. It is read
  // only and never sent: the rationale says what the author concluded, in their words.
  function showEvidence(rationale, why) {
    const field = rationale.closest(".field") || rationale;
    let note = field.parentNode.querySelector(".pattern-evidence");
    if (!note) {
      note = document.createElement("div");
      note.className = "pattern-evidence";
      note.setAttribute("role", "note");
      const label = document.createElement("p");
      label.className = "evidence-label";
      label.textContent = "Seams' evidence (not saved; write your own rationale above)";
      const text = document.createElement("p");
      text.className = "evidence-text";
      note.append(label, text);
      note.id = `${rationale.id}_evidence`;
      field.after(note);
      const described = rationale.getAttribute("aria-describedby");
      rationale.setAttribute("aria-describedby", `${described ? described + " " : ""}${note.id}`);
    }
    note.querySelector(".evidence-text").textContent = why;
  }

  function addPatternRow(name, why) {
    // Choose the pattern in an empty row (a new one if none is empty) and leave the
    // rationale to the author, with Seams' evidence beside it; the author still saves.
    const selects = Array.from(form.querySelectorAll("select[name^=patterns-][name$=-pattern]"))
      .filter((sel) => !sel.closest("[data-formset-row]")?.hidden);
    const option = (sel) => Array.from(sel.options).find((o) => o.textContent.trim() === name);
    let select = selects.find((sel) => !sel.value);
    if (!select && window.Seams && window.Seams.formsets) {
      const row = window.Seams.formsets.add("patterns", {}, { focus: false });
      select = row && row.querySelector("select[name$=-pattern]");
    }
    if (!select) return false;
    const match = option(select);
    if (!match) return false;
    select.value = match.value;
    const rationale = form.querySelector(`[name="${select.name.replace(/-pattern$/, "-rationale")}"]`);
    if (!rationale) return false;
    showEvidence(rationale, why);
    rationale.focus();
    return true;
  }

  function decide(params) {
    if (!form.dataset.decideUrl) return Promise.resolve();
    const body = new URLSearchParams({ ...params, link: "0" });
    return fetch(form.dataset.decideUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      credentials: "same-origin",
      body,
    });
  }

  function button(label, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "secondary small";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderPatterns(patterns) {
    const list = document.getElementById("suggested-patterns");
    list.replaceChildren();
    patterns.forEach((p) => {
      const li = document.createElement("li");
      const head = document.createElement("strong");
      head.textContent = `${p.name} (${Math.round(p.score * 100)}%)`;
      const why = document.createElement("p");
      why.className = "muted";
      why.textContent = p.why;
      const accept = button("Use this pattern", () => {
        const added = addPatternRow(p.name, p.why);
        decide({ decision: "accepted", pattern: p.slug });
        accept.textContent = added
          ? "Added below: write why, then save"
          : "Could not add it: choose the pattern below";
        accept.disabled = true;
      });
      li.append(head, why, accept);
      if (incident) {
        li.append(button("Not this one", () => {
          decide({ decision: "rejected", pattern: p.slug }).then(() => li.remove());
        }));
      }
      list.append(li);
    });
    if (!list.children.length) list.append(item("No pattern suggested yet.", "empty"));
  }

  function renderIncidents(incidents) {
    const list = document.getElementById("similar-incidents");
    list.replaceChildren();
    incidents.forEach((s) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = s.url;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = s.title;
      const why = document.createElement("p");
      why.className = "muted";
      why.textContent = s.why;
      li.append(a, why);
      if (incident) {
        li.append(button("Not similar", () => {
          decide({ decision: "rejected", incident: s.id }).then(() => li.remove());
        }));
      }
      list.append(li);
    });
    if (!list.children.length) list.append(item("None yet.", "empty"));
  }

  function refresh() {
    if (lastMarkdownField) {
      const label = form.querySelector(`label[for=${lastMarkdownField.id}]`);
      document.getElementById("preview-label").textContent =
        `Preview of ${label ? label.textContent.trim() : "this section"}:`;
      post(form.dataset.previewUrl, { text: lastMarkdownField.value })
        .then((data) => { document.getElementById("preview").innerHTML = data.html; })
        .catch(() => {});
    }
    post(form.dataset.assistUrl, { sections: sections(), incident })
      .then((data) => {
        renderHints(data.hints);
        renderPatterns(data.patterns);
        renderIncidents(data.incidents);
      })
      .catch(() => {});
  }

  let timer = null;
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 500);
  }
  form.addEventListener("input", (event) => {
    if (event.target.tagName === "TEXTAREA") lastMarkdownField = event.target;
    schedule();
  });
  form.addEventListener("focusin", (event) => {
    if (event.target.tagName === "TEXTAREA") { lastMarkdownField = event.target; schedule(); }
  });
  refresh();
})();
