// The attention explorer (hooks/explorer.py renders the widget, its numbers and its labels).
// Without this script the reader sees every weight matrix as a table; with it,
// one query's weights as bars, chosen with buttons. The numbers come from the
// page's own data island (no request), already printed with 4 decimals.
(function () {
  "use strict";

  // A radio group (role=radiogroup, its buttons role=radio): exactly one is
  // checked, and it is the group's one tab stop (roving tabindex); the arrow
  // keys move to the next or previous button and check it (wrapping), Home and
  // End to the first and last; Space (and Enter, a button's key) checks the
  // focused one, as a click does.
  function choice(bar, onPick) {
    var buttons = Array.prototype.slice.call(bar.querySelectorAll("button"));
    function pick(i, focus) {
      buttons.forEach(function (button, j) {
        button.setAttribute("aria-checked", String(i === j));
        button.tabIndex = i === j ? 0 : -1;
      });
      if (focus) buttons[i].focus();
      onPick(i);
    }
    buttons.forEach(function (button, i) {
      button.addEventListener("click", function () {
        pick(i, false);
      });
    });
    bar.addEventListener("keydown", function (event) {
      var i = buttons.indexOf(event.target);
      var n = buttons.length;
      var next = {
        ArrowRight: i + 1,
        ArrowDown: i + 1,
        ArrowLeft: i - 1 + n,
        ArrowUp: i - 1 + n,
        Home: 0,
        End: n - 1,
      }[event.key];
      if (i < 0 || next === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
      event.preventDefault();
      pick(next % n, true);
    });
    return buttons;
  }

  function checked(buttons) {
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].getAttribute("aria-checked") === "true") return i;
    }
    return 0;
  }

  function explorer(root) {
    var data = JSON.parse(root.querySelector(".ax-data").textContent);
    var live = root.querySelector(".ax-live");
    var rows = live.querySelectorAll(".ax-row");
    var status = live.querySelector(".ax-status");
    var query = 0;
    var state = 0;

    function fill(selector, values) {
      live.querySelectorAll(selector).forEach(function (el, k) {
        el.textContent = values[k];
      });
    }

    // Whether state s masks key j for the query: later keys; with a window, also the keys
    // `window` or more before the query that are not sinks (hooks/explorer.py's `blocked`).
    function blocked(s, j) {
      if (!s.causal) return false;
      var outside = s.window !== undefined && j <= query - s.window && j >= (s.sinks || 0);
      return j > query || outside;
    }

    function show() {
      var s = data.states[state];
      s.weights[query].forEach(function (weight, j) {
        rows[j].querySelector("[data-weight]").textContent = weight;
        rows[j].querySelector(".ax-fill").style.width = parseFloat(weight) * 100 + "%";
        rows[j].classList.toggle("ax-masked", blocked(s, j));
        rows[j].querySelector(".ax-masked-note").hidden = !blocked(s, j);
        rows[j].classList.toggle("ax-self", j === query);
      });
      fill("[data-context]", s.context[query]);
      if (s.output) fill("[data-output]", s.output[query]);
      // The status as the page renders it: the token keeps its lang (an English word in a Japanese page).
      var parts = data.status.split("{token}");
      var token = document.createElement("span");
      var lang = tokens[query].getAttribute("lang");
      if (lang) token.setAttribute("lang", lang);
      token.textContent = tokens[query].textContent;
      status.replaceChildren(
        document.createTextNode(parts[0]),
        lang ? token : token.textContent,
        document.createTextNode(parts[1].replace("{state}", states[state].textContent))
      );
    }

    var tokens = choice(live.querySelector(".ax-tokens"), function (i) {
      query = i;
      show();
    });
    var states = choice(live.querySelector(".ax-states"), function (i) {
      state = i;
      show();
    });
    query = checked(tokens);
    state = checked(states);
    root.querySelector(".ax-static").hidden = true;
    live.hidden = false;
    show();
  }

  document.querySelectorAll("[data-attention-explorer]").forEach(explorer);
})();
