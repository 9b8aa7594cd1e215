/* Presenter page: choosing the face to animate. The faces seen are boxes drawn over their
   frame (an SVG); clicking a box (or Enter/Space on it) submits the form with that face's
   number, exactly as its button below the picture does (the page works without this). */
(function () {
  "use strict";
  const picker = document.querySelector("[data-face-picker]");
  const form = document.querySelector("[data-face-form]");
  if (!picker || !form) return;

  function pick(box) {
    const button = form.querySelector('[data-face-button="' + box.dataset.face + '"]');
    if (!button) return;
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }

  picker.querySelectorAll("[data-face]").forEach((box) => {
    box.addEventListener("click", () => pick(box));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        pick(box);
      }
    });
  });
})();
