// The API guide's language tabs. Progressive enhancement: without this file every language's
// snippet is shown, one after another. The chosen language applies to every step and is remembered.
"use strict";
(() => {
  const STORAGE_KEY = "zevvy.guide.language";
  const groups = [...document.querySelectorAll(".snippets")];
  if (groups.length === 0) return;

  const remembered = () => {
    try { return localStorage.getItem(STORAGE_KEY); } catch { return null; }
  };
  const remember = (language) => {
    try { localStorage.setItem(STORAGE_KEY, language); } catch { /* storage may be off */ }
  };

  const show = (language) => {
    for (const group of groups) {
      const panels = [...group.querySelectorAll(".snippet")];
      const chosen = panels.some((panel) => panel.dataset.language === language)
        ? language
        : panels[0].dataset.language;
      for (const tab of group.querySelectorAll("[role=tab]")) {
        const selected = tab.dataset.language === chosen;
        tab.setAttribute("aria-selected", String(selected));
        tab.tabIndex = selected ? 0 : -1;
      }
      for (const panel of panels) panel.hidden = panel.dataset.language !== chosen;
    }
  };

  for (const group of groups) {
    const list = document.createElement("div");
    list.className = "snippet-tabs";
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", "Language");
    for (const panel of group.querySelectorAll(".snippet")) {
      const tab = document.createElement("button");
      tab.type = "button";
      tab.id = `${panel.id}-tab`;
      tab.textContent = panel.dataset.label;
      tab.dataset.language = panel.dataset.language;
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      panel.querySelector(".snippet-label").hidden = true;
      const copy = panel.querySelector(".copy");
      if (copy && navigator.clipboard) copy.hidden = false;
      list.append(tab);
    }
    list.addEventListener("click", (event) => {
      const tab = event.target.closest("[role=tab]");
      if (!tab) return;
      remember(tab.dataset.language);
      show(tab.dataset.language);
    });
    list.addEventListener("keydown", (event) => {
      const tabs = [...list.querySelectorAll("[role=tab]")];
      const at = tabs.indexOf(document.activeElement);
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (at < 0 || !step) return;
      event.preventDefault();
      const next = tabs[(at + step + tabs.length) % tabs.length];
      remember(next.dataset.language);
      show(next.dataset.language);
      next.focus();
    });
    group.prepend(list);
  }
  show(remembered() || groups[0].querySelector(".snippet").dataset.language);
})();
