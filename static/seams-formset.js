// Rows of a Django formset added and removed in place: no save to get a blank row.
//
// Markup (templates/incidents/_formset.html): a [data-formset=PREFIX] container with the
// management form, the rows ([data-formset-row]) in [data-formset-rows], a <template
// data-formset-empty> holding `formset.empty_form` (names PREFIX-__prefix__-FIELD) and an
// add button. Nothing here knows a formset's fields, so any formset works.
//
// window.Seams.formsets.add(prefix, {field: value, ...}) adds a row with initial values and
// returns it (other scripts, such as a review template filling in the timeline, use it).
(function () {
  "use strict";
  const ATTRIBUTES = ["name", "id", "for", "aria-describedby", "aria-labelledby"];

  function management(container, what) {
    const prefix = container.dataset.formset;
    return container.querySelector(`input[name="${prefix}-${what}"]`);
  }

  function rows(container) {
    return Array.from(container.querySelectorAll("[data-formset-rows] > [data-formset-row]"));
  }

  function firstField(row) {
    return row.querySelector(
      "input:not([type=hidden]):not([type=checkbox]):not([disabled]), select, textarea"
    );
  }

  function deleteBox(row) {
    return row.querySelector("[data-formset-delete] input[type=checkbox]");
  }

  // "Event 1", "Event 2", … for the rows still shown (a removed saved row keeps its index).
  function renumber(container) {
    let shown = 0;
    rows(container).forEach((row) => {
      if (row.hidden) return;
      shown += 1;
      row.querySelectorAll("[data-row-number]").forEach((el) => { el.textContent = shown; });
    });
  }

  // Rename PREFIX-OLD- to PREFIX-NEW- in every attribute that names a field of the row.
  function reindex(row, prefix, from, to) {
    const pattern = new RegExp(`(^|[\\s_])${prefix}-${from}-`, "g");
    [row, ...row.querySelectorAll("*")].forEach((el) => {
      ATTRIBUTES.forEach((attr) => {
        const value = el.getAttribute(attr);
        if (value && value.includes(`${prefix}-${from}-`)) {
          el.setAttribute(attr, value.replace(pattern, `$1${prefix}-${to}-`));
        }
      });
    });
  }

  function enhanceRow(container, row) {
    const remove = row.querySelector("[data-formset-remove]");
    const actions = row.querySelector("[data-formset-row-actions]");
    const box = deleteBox(row);
    if (box) {
      box.closest("[data-formset-delete]").hidden = true;
      if (box.checked) row.hidden = true; // deleted before a refused save: stays deleted
    }
    if (actions) actions.hidden = false;
    if (remove) remove.addEventListener("click", () => removeRow(container, row));
  }

  function setValue(field, value) {
    if (field.type === "checkbox" || field.type === "radio") {
      field.checked = Boolean(value);
    } else {
      field.value = value == null ? "" : String(value);
    }
  }

  function addRow(container, values, { focus = true } = {}) {
    const prefix = container.dataset.formset;
    const total = management(container, "TOTAL_FORMS");
    const max = management(container, "MAX_NUM_FORMS");
    const index = Number(total.value);
    if (max && index >= Number(max.value)) return null;
    const template = container.querySelector("template[data-formset-empty]");
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const row = holder.querySelector("[data-formset-row]");
    Object.entries(values || {}).forEach(([name, value]) => {
      const field = row.querySelector(`[name="${prefix}-${index}-${name}"]`);
      if (field) setValue(field, value);
    });
    container.querySelector("[data-formset-rows]").append(row);
    total.value = String(index + 1);
    enhanceRow(container, row);
    renumber(container);
    if (focus) {
      const field = firstField(row);
      if (field) field.focus();
    }
    row.dispatchEvent(new CustomEvent("formset:added", { bubbles: true, detail: { prefix } }));
    return row;
  }

  function removeRow(container, row) {
    const prefix = container.dataset.formset;
    const initial = Number(management(container, "INITIAL_FORMS").value);
    const all = rows(container);
    const index = all.indexOf(row);
    const addButton = container.querySelector("[data-formset-add]");
    if (index < initial) {
      // A saved row: the server deletes it on save.
      deleteBox(row).checked = true;
      row.hidden = true;
    } else {
      // A row added here: take it out and close the gap, so the formset's indices stay
      // 0…TOTAL_FORMS-1 (a missing index would read as a row changed to empty).
      row.remove();
      all.slice(index + 1).forEach((later, offset) => {
        reindex(later, prefix, index + offset + 1, index + offset);
      });
      const total = management(container, "TOTAL_FORMS");
      total.value = String(Number(total.value) - 1);
    }
    renumber(container);
    const next = all.slice(index + 1).find((r) => !r.hidden && r.isConnected);
    const target = next ? firstField(next) : addButton;
    if (target) target.focus();
    container.dispatchEvent(new CustomEvent("formset:removed", { bubbles: true, detail: { prefix } }));
  }

  function enhance(container) {
    if (container.dataset.formsetReady) return;
    container.dataset.formsetReady = "1";
    rows(container).forEach((row) => enhanceRow(container, row));
    const wrap = container.querySelector("[data-formset-add-wrap]");
    if (wrap) wrap.hidden = false;
    const add = container.querySelector("[data-formset-add]");
    if (add) add.addEventListener("click", () => addRow(container));
    renumber(container);
  }

  function find(prefix) {
    return document.querySelector(`[data-formset="${prefix}"]`);
  }

  document.querySelectorAll("[data-formset]").forEach(enhance);

  // Enter in a row's one-line input would submit the whole review half-written.
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key !== "Enter" || event.isComposing || !target.closest) return;
    if (target.tagName !== "INPUT" || !target.closest("[data-formset-row]")) return;
    if (["submit", "button", "checkbox", "radio"].includes(target.type)) return;
    event.preventDefault();
  });

  window.Seams = window.Seams || {};
  window.Seams.formsets = {
    add(prefix, values, options) {
      const container = find(prefix);
      return container ? addRow(container, values, options) : null;
    },
    rows(prefix) {
      const container = find(prefix);
      return container ? rows(container).filter((row) => !row.hidden) : [];
    },
    remove(row) {
      const container = row.closest("[data-formset]");
      if (container) removeRow(container, row);
    },
  };
})();
