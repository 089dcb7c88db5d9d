// A page of jobs (audiobooks, songs): submit one, follow every unfinished job's progress as it
// happens, cancel one. The table says which API it lists and which fields count the progress.
"use strict";
(() => {
  const api = window.voicekit;
  const jobs = document.getElementById("jobs");
  const {kind, done: doneField, total: totalField, label: labelField} = jobs.dataset;
  const table = jobs.querySelector("tbody");
  const error = document.getElementById("job-error");

  function row(job) {
    let tr = table.querySelector(`tr[data-job="${job.job_id}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.job = job.job_id;
      tr.innerHTML = '<td><code></code></td><td></td><td></td><td><progress aria-label="chapters done"></progress> ' +
        '<span class="percent"></span></td><td class="status"></td><td class="actions"></td>';
      table.prepend(tr);
    }
    const cells = tr.children;
    cells[0].firstChild.textContent = job.job_id;
    cells[1].textContent = job[labelField] || "";
    cells[2].textContent = job.voice;
    const bar = tr.querySelector("progress");
    bar.max = job[totalField]; bar.value = job[doneField];
    bar.textContent = `${job[doneField]} of ${job[totalField]}`;
    tr.querySelector(".percent").textContent = `${Math.round(100 * job[doneField] / job[totalField])} %`;
    tr.querySelector(".status").textContent = job.status;
    const actions = tr.querySelector(".actions");
    actions.replaceChildren();
    if (job.status === "done") {
      const link = document.createElement("a");
      link.href = `/ui/${kind}/${job.job_id}/result`; link.className = "download"; link.textContent = "Download";
      actions.append(link);
    } else if (job.status === "queued" || job.status === "running") {
      const cancel = document.createElement("button");
      cancel.type = "button"; cancel.className = "cancel"; cancel.textContent = "Cancel";
      actions.append(cancel);
      follow(job.job_id);
    }
  }

  const followed = new Set();
  async function follow(jobId) {
    // The job's server-sent events (GET /v1/{kind}/{id}/events), read from a fetch: an
    // EventSource could not send the header the API asks of this page.
    if (followed.has(jobId)) return;
    followed.add(jobId);
    try {
      const response = await api.call("GET", `/v1/${kind}/${jobId}/events`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const data = buffer.slice(0, end).split("\n").filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trim()).join("\n");
          buffer = buffer.slice(end + 2);
          if (data) row(JSON.parse(data));
        }
      }
    } catch (e) {
      api.show(error, e.message);
    } finally {
      followed.delete(jobId);
    }
  }

  table.addEventListener("click", async (event) => {
    if (!event.target.classList.contains("cancel")) return;
    const jobId = event.target.closest("tr").dataset.job;
    try { row(await api.json("DELETE", `/v1/${kind}/${jobId}`)); } catch (e) { api.show(error, e.message); }
  });

  document.getElementById("job-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    api.show(error, "");
    const form = new FormData(event.target);
    // A book is an upload (multipart); a song is a JSON body of the form's fields.
    const body = event.target.dataset.json ? Object.fromEntries(Array.from(form).filter(([, v]) => v !== "")) : form;
    try {
      row(await api.json("POST", `/v1/${kind}`, body));
    } catch (e) {
      api.show(error, e.message);
    }
  });

  table.querySelectorAll("tr[data-job]").forEach((tr) => {
    const status = tr.querySelector(".status").textContent;
    if (status === "queued" || status === "running") follow(tr.dataset.job);
  });
})();
