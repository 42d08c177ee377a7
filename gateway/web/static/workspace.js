// The workspace's keyboard: j / k move between a document's lines, a puts the focus on
// "Approve document" (Enter then approves), n opens the next document to review. Keys
// typed into a field are left alone. In the queue it keeps the selection's count and
// requested total beside the bulk buttons, and a [data-print] button prints the page.
(function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(target.tagName));
  }

  function lines() {
    return Array.prototype.slice.call(document.querySelectorAll("tbody.line-group[id^='line-']"));
  }

  function moveLine(step) {
    var all = lines();
    if (!all.length) { return; }
    var current = all.findIndex(function (row) { return row.classList.contains("current"); });
    var next = Math.min(Math.max(current + step, 0), all.length - 1);
    all.forEach(function (row) { row.classList.remove("current"); });
    var row = all[next];
    row.classList.add("current");
    row.scrollIntoView({ block: "center" });
    var field = row.querySelector("form.review select, form.review input:not([type=hidden])");
    (field || row).focus({ preventScroll: true });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "j") { moveLine(1); event.preventDefault(); }
    else if (event.key === "k") { moveLine(-1); event.preventDefault(); }
    else if (event.key === "a") {
      var approve = document.querySelector("#decision button[value=approve]");
      if (approve) { approve.focus(); approve.classList.add("armed"); event.preventDefault(); }
    } else if (event.key === "n") {
      var next = document.getElementById("next-document");
      if (next) { window.location.assign(next.href); event.preventDefault(); }
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) { window.print(); event.preventDefault(); }
  });

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form || form.id !== "selection") { return; }
    var boxes = form.querySelectorAll("input[name=id]:checked");
    var total = 0;
    boxes.forEach(function (box) { total += parseInt(box.getAttribute("data-amount"), 10) || 0; });
    var shown = document.getElementById("selection-count");
    if (shown) {
      var digits = new Intl.NumberFormat(document.documentElement.lang === "fa" ? "fa-IR" : "en-US");
      shown.textContent = shown.getAttribute("data-template")
        .replace("{count}", digits.format(boxes.length))
        .replace("{amount}", digits.format(total));
    }
  });
})();
