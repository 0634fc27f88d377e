// Follows the analysis job shown on a case page (its progress bar and stage) and, once the job
// has finished, loads the case page again so that the new analysis and report appear.
// A file of its own: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  var section = document.getElementById("analysis-progress");
  if (!section) {
    return;
  }
  var bar = section.querySelector("progress");
  var stage = section.querySelector(".stage");

  function show(job) {
    if (job.total > 0) {
      bar.max = job.total;
      bar.value = job.done;
    }
    stage.textContent = job.stage;
  }

  function poll() {
    fetch(section.dataset.job, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("the server answered " + answer.status);
        }
        return answer.json();
      })
      .then(function (job) {
        show(job);
        if (job.finished) {
          window.location.replace(section.dataset.case + "#analyses");
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function (error) {
        stage.textContent = "progress unavailable (" + error.message + "); retrying";
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 500);
})();
