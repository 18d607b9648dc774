// Accessibility fixes for the theme's markup (checked with axe-core by tests/browser).
document$.subscribe(() => {
  // The search overlay is a dialog without a name.
  const search = document.querySelector(".md-search[role=dialog]");
  if (search && !search.hasAttribute("aria-label")) {
    const input = document.querySelector(".md-search__input");
    search.setAttribute("aria-label", (input && input.getAttribute("aria-label")) || "Search");
  }
  // Regions that scroll sideways (wide formulas and tables) must be reachable
  // with the keyboard.
  document.querySelectorAll(".katex-display, .md-typeset__scrollwrap, .highlight-ipynb").forEach((el) => {
    if (el.scrollWidth > el.clientWidth && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
    }
  });
});
