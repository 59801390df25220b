// The Menon seller dashboard: small enhancements over pages that work without script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A page answering a POST (a new secret, a test result) takes the address of the page
  // it belongs to, so that reloading does not post again.
  const replace = document.querySelector("[data-replace-url]");
  if (replace) {
    history.replaceState(null, "", replace.getAttribute("data-replace-url"));
  }

  // Copy buttons: data-copy names the element whose value or text to copy.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const id = button.getAttribute("data-copy");
      const source = document.getElementById(id);
      if (!source) return;
      const text = "value" in source && source.value !== undefined ? source.value : source.textContent;
      let copied = false;
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch {
        // No clipboard access: select the text and try the old way.
        if (typeof source.select === "function") source.select();
        else window.getSelection()?.selectAllChildren(source);
        copied = document.execCommand("copy");
      }
      const label = button.textContent;
      button.textContent = copied ? "Copied ✓" : "Select and copy";
      const status = document.querySelector(`[data-copy-status="${id}"]`);
      if (status) status.textContent = copied ? "Copied to the clipboard." : "Copy it by hand: it is selected.";
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }

  // Event groups: the group's box selects all of its events, and shows "some".
  const sync = (group) => {
    const boxes = [...document.querySelectorAll(`input[data-group="${group}"]`)];
    const toggle = document.querySelector(`input[data-group-toggle="${group}"]`);
    const checked = boxes.filter((b) => b.checked).length;
    if (toggle) {
      toggle.checked = checked === boxes.length;
      toggle.indeterminate = checked > 0 && checked < boxes.length;
    }
    const count = document.querySelector(`[data-group-count="${group}"]`);
    if (count) count.textContent = `${checked}/${boxes.length}`;
  };
  for (const toggle of document.querySelectorAll("input[data-group-toggle]")) {
    const group = toggle.getAttribute("data-group-toggle");
    toggle.addEventListener("change", () => {
      for (const box of document.querySelectorAll(`input[data-group="${group}"]`)) {
        box.checked = toggle.checked;
      }
      sync(group);
    });
    sync(group);
  }
  for (const box of document.querySelectorAll("input[data-group]")) {
    box.addEventListener("change", () => sync(box.getAttribute("data-group")));
  }

  // A validation message goes stale once its field is edited: it fades, the field
  // loses its red border (the server checks again on submit).
  const stale = (field) => {
    if (!field || !field.classList.contains("has-error")) return;
    field.classList.remove("has-error");
    for (const error of field.querySelectorAll(".field-error")) error.classList.add("is-stale");
    for (const input of field.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  };
  for (const input of document.querySelectorAll(".field input, .field select")) {
    const field = input.closest(".field");
    input.addEventListener("input", () => stale(field));
    input.addEventListener("change", () => stale(field));
  }

  // Filters apply as soon as one is picked.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form && select.form.requestSubmit());
  }

  // Forms that take a moment (sending, retrying) say so and cannot be sent twice.
  for (const form of document.querySelectorAll("form[data-busy]")) {
    const button = form.querySelector("button[type=submit]");
    if (!button) continue;
    const label = button.textContent;
    form.addEventListener("submit", () => {
      button.disabled = true;
      button.textContent = form.getAttribute("data-busy");
    });
    // Coming back with the Back button shows the page as it was left: usable again.
    window.addEventListener("pageshow", () => {
      button.disabled = false;
      button.textContent = label;
    });
  }

  // Times: shown in the reader's time zone, with UTC on hover.
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  for (const time of document.querySelectorAll("time[data-local]")) {
    const at = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      time.title = time.textContent;
      time.textContent = format.format(at);
    }
  }
});
