// Audit uploaded files as a job, show each file's verdict, link the signed report.
"use strict";
(() => {
  const api = window.voicekit;
  const state = document.getElementById("audit-state"), error = document.getElementById("audit-error");
  const table = document.getElementById("findings");

  function cell(tr, text) {
    const td = document.createElement("td"); td.textContent = text == null ? "" : text; tr.append(td);
    return td;
  }

  async function show(jobId) {
    const report = await api.json("GET", `/v1/audits/${jobId}/report`);
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const file of report.report.files) {
      const tr = document.createElement("tr");
      cell(tr, file.path);
      cell(tr, file.verdict).className = `verdict-${file.verdict}`;
      cell(tr, file.mark_id);
      cell(tr, file.consent ? file.consent.voice : "");
      cell(tr, file.consent ? `${file.consent.then.status} / ${file.consent.now.status}` : (file.error || ""));
      body.append(tr);
    }
    table.hidden = false;
    document.getElementById("report-html").href = `/ui/audits/${jobId}/report?format=html`;
    const json = document.getElementById("report-json");
    json.href = `/ui/audits/${jobId}/report?format=json`; json.download = `audit-${jobId}.json`;
    document.getElementById("report-links").hidden = false;
  }

  document.getElementById("audit-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    api.show(error, ""); table.hidden = true; document.getElementById("report-links").hidden = true;
    try {
      let job = await api.json("POST", "/v1/audits", new FormData(event.target));
      while (job.status === "queued" || job.status === "running") {
        api.show(state, `Checking: ${job.files_done} of ${job.files} files done`);
        await new Promise((done) => setTimeout(done, 1000));
        job = await api.json("GET", `/v1/audits/${job.job_id}`);
      }
      if (job.status !== "done") throw new Error(`the audit ${job.status}: ${job.error || ""}`);
      const counts = Object.entries(job.summary).filter(([, n]) => n).map(([verdict, n]) => `${n} ${verdict}`);
      api.show(state, `Done: ${job.files} files (${counts.join(", ")})`);
      await show(job.job_id);
    } catch (e) {
      api.show(error, e.message);
    }
  });
})();
