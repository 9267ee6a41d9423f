// copilot-batch's report.html: three views of the data embedded in #report-data, switched by
// the URL hash (#run, #tasks, #task=ID). Every node is built with textContent, except
// Markdown, which is escaped before it is formatted. Nothing is fetched.
"use strict";

const DATA = JSON.parse(document.getElementById("report-data").textContent);
const STATUSES = ["ok", "failed", "error", "timeout", "limit", "cancelled", "pending"];
const TASKS = DATA.tasks;
const BY_ID = new Map(TASKS.map((task) => [task.id, task]));

// ---- small helpers --------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svgEl(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 3600) return `${Math.floor(value / 3600)}h${Math.round((value % 3600) / 60)}m`;
  if (value >= 60) return `${Math.floor(value / 60)}m${Math.round(value % 60)}s`;
  return `${value.toFixed(1)}s`;
}

function num(value) {
  return (value || 0).toLocaleString("en-US");
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function sharedText(content) {
  return content && typeof content === "object" && "ref" in content
    ? DATA.texts[content.ref] : content || "";
}

function since(moment) {
  return (Date.parse(moment) - Date.parse(DATA.run.started_at)) / 1000;
}

function taskLink(id) {
  return el("a", { href: `#task=${encodeURIComponent(id)}`, text: id });
}

function statusSpan(status) {
  return el("span", { class: `status status-${status}`, text: status });
}

// What limits count: the tokens reported, plus the estimate for calls reported without usage.
function tokensOf(task) {
  const usage = task.usage || {};
  return (usage.total_tokens || 0) + (usage.estimated_tokens || 0);
}

// Tokens as reported; a lower bound and the estimate when some calls' usage was not.
function tokensText(usage) {
  const u = usage || {};
  if (u.reported !== false && !u.estimated_tokens) return num(u.total_tokens);
  return `≥ ${num(u.total_tokens)} (~${num(u.estimated_tokens)} est.)`;
}

function answerOf(task) {
  return task.status === "ok" ? task.final_message || "" : task.error || "";
}

function short(text, width) {
  const line = (text || "").split("\n").find((part) => part.trim()) || "";
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

// ---- Markdown: HTML escaped first, then a small, safe subset formatted ----------------

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function inline(escaped) {
  const codes = [];
  let text = escaped.replace(/`([^`]+)`/g, (_, code) => {
    codes.push(code);
    return `\u0000${codes.length - 1}\u0000`;
  });
  text = text.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, label, href) =>
    /^(https?:|mailto:|#)/i.test(href)
      ? `<a href="${href}" rel="noopener noreferrer" target="_blank">${label}</a>` : label);
  text = text.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
    .replace(/(^|[^\w_])_([^_\s][^_]*)_(?!\w)/g, "$1<em>$2</em>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, i) => `<code>${codes[Number(i)]}</code>`);
}

function markdown(source) {
  const lines = escapeHtml(source || "").split("\n");
  const out = [];
  let paragraph = [];
  let list = null;
  const flush = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join(" "))}</p>`);
    if (list) out.push(`<${list.tag}>${list.items.map((i) => `<li>${inline(i)}</li>`).join("")}</${list.tag}>`);
    paragraph = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(/^\s*```/);
    if (fence) {
      flush();
      const code = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      out.push(`<pre><code>${code.join("\n")}</code></pre>`);
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    const item = line.match(/^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/);
    if (heading) {
      flush();
      out.push(`<h${heading[1].length}>${inline(heading[2])}</h${heading[1].length}>`);
    } else if (item) {
      const tag = item[1] ? "ul" : "ol";
      if (paragraph.length || (list && list.tag !== tag)) flush();
      list = list || { tag, items: [] };
      list.items.push(item[3]);
    } else if (!line.trim()) {
      flush();
    } else if (list && /^\s+/.test(line)) {
      list.items[list.items.length - 1] += ` ${line.trim()}`;
    } else {
      if (list) flush();
      paragraph.push(line.trim());
    }
  }
  flush();
  const node = el("div", { class: "markdown" });
  node.innerHTML = out.join("\n");
  return node;
}

// ---- the run ----------------------------------------------------------------------------

function card(label, value, attrs) {
  return el("div", { class: "card", ...attrs },
    el("div", { class: "label", text: label }), el("div", { class: "value", text: value }));
}

function renderRun(section) {
  const run = DATA.run;
  const totals = run.totals || {};
  section.append(
    el("h2", {}, "Run ", el("code", { text: run.run_id })),
    el("div", { class: "cards" },
      card("State", run.state, { id: "run-state-card" }),
      card("Wall time", seconds(run.duration_seconds), { id: "wall-time" }),
      card("Tasks", num(TASKS.length)),
      card("Tokens", totals.tasks_without_usage ? `≥ ${num(totals.total_tokens)}` : num(totals.total_tokens), { id: "tokens-card" }),
      totals.tasks_without_usage ? card("Without usage",
        `${num(totals.tasks_without_usage)} tasks, ~${num(totals.estimated_tokens)} tokens est.`,
        { id: "without-usage-card", title: "The provider reported no usage for some model calls: their tokens are estimated (a token per 4 characters sent and received) and counted toward limits and budgets." }) : null,
      card("Tool calls", num(totals.tool_calls)),
      card("Denials", num(totals.permission_denials))),
    el("p", {}, "State: ", el("strong", { id: "run-state", text: run.state }),
      run.failure ? el("span", { class: "error", text: ` ${run.failure}` }) : null),
    el("h2", { text: "Tasks by status" }),
    el("div", { id: "run-totals", class: "cards" }, STATUSES.map((status) =>
      el("a", { href: "#tasks", class: "card", "data-status-link": status },
        el("div", { class: `label status-${status}`, text: status }),
        el("div", { class: "value", "data-status": status, text: String(totals[status] || 0) })))),
    el("h2", { text: "Tokens by model" }), tokensByModel(run),
    el("h2", { text: "Concurrency over time" }), concurrencyChart(run),
    el("h2", { text: "Job files" }), jobFiles(run),
    el("h2", { text: "Options" }), runOptions(run));
}

function tokensByModel(run) {
  const models = ((run.cost || {}).tokens_by_model) || {};
  const rows = Object.entries(models).map(([model, usage]) => el("tr", { "data-model": model },
    el("td", {}, el("code", { text: model })),
    el("td", { class: "num", text: tokensText(usage) }),
    ...["input_tokens", "output_tokens", "cache_read_tokens"].map((key) =>
      el("td", { class: "num", text: num(usage[key]) }))));
  return el("table", { id: "tokens-by-model" },
    el("thead", {}, el("tr", {}, ["Model", "Total", "In", "Out", "Cache read"].map((name, i) =>
      el("th", { class: i ? "num" : null, text: name })))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 5, class: "muted", text: "no tokens reported" }))));
}

function concurrencyChart(run) {
  const steps = DATA.concurrency_steps;
  const end = Math.max(run.duration_seconds || 0, ...steps.map((s) => s[0]), 0.001);
  const limit = (run.concurrency || {}).maximum || (run.options || {}).concurrency || 1;
  const top = Math.max(limit, ...steps.map((s) => s[1]), 1);
  const width = 800, height = 160, pad = 30;
  const x = (t) => pad + (t / end) * (width - 2 * pad);
  const y = (n) => height - pad + 10 - (n / top) * (height - 2 * pad);
  let path = `M${x(0)},${y(0)}`;
  for (const [at, running] of steps) path += ` H${x(at)} V${y(running)}`;
  path += ` H${x(end)}`;
  const peak = Math.max(...steps.map((s) => s[1]));
  const svg = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" },
    svgEl("title", {}, `Sessions running over the run (peak ${peak}, limit ${limit})`),
    svgEl("line", { x1: x(0), x2: x(end), y1: y(limit), y2: y(limit), stroke: "#cf222e", "stroke-dasharray": "4 3" }),
    svgEl("text", { x: x(end) - 2, y: y(limit) - 3, "text-anchor": "end", "font-size": 11, fill: "#cf222e" }, `limit ${limit}`),
    svgEl("path", { d: path, fill: "none", stroke: "#0969da", "stroke-width": 2 }),
    svgEl("line", { x1: x(0), x2: x(end), y1: y(0), y2: y(0), stroke: "#656d76" }),
    svgEl("text", { x: x(0), y: height - 4, "font-size": 11 }, "0s"),
    svgEl("text", { x: x(end), y: height - 4, "font-size": 11, "text-anchor": "end" }, seconds(end)),
    svgEl("text", { x: 2, y: y(top) + 4, "font-size": 11 }, String(top)));
  return el("div", { id: "concurrency" }, svg,
    el("p", { class: "muted", text: `Peak ${peak} sessions at once; the limit is ${limit}` +
      ((run.concurrency && run.concurrency.lowest < limit) ? ` (lowered to ${run.concurrency.lowest} on rate limits)` : "") + "." }));
}

function jobFiles(run) {
  return el("table", { id: "job-files" },
    el("thead", {}, el("tr", {}, ["Job file", "Name", "Tasks", "sha256"].map((name) => el("th", { text: name })))),
    el("tbody", {}, (run.job_files || []).map((job) => el("tr", { class: "job-file" },
      el("td", {}, el("code", { text: job.path })), el("td", { text: job.name || "" }),
      el("td", { class: "num", text: job.tasks === undefined ? "" : String(job.tasks) }),
      el("td", { class: "mono sha256", text: job.sha256 })))));
}

function runOptions(run) {
  const entries = [...Object.entries(run.options || {}), ...Object.entries(run.environment || {})
    .map(([key, value]) => [`environment.${key}`, value])];
  if (run.resumed_at && run.resumed_at.length) entries.push(["resumed_at", run.resumed_at]);
  if (run.merged_from) entries.push(["merged_from", run.merged_from]);
  return el("dl", { id: "run-options", class: "options" }, entries.flatMap(([key, value]) => [
    el("dt", { text: key }),
    el("dd", { class: "mono", text: typeof value === "string" ? value : JSON.stringify(value) })]));
}

// ---- the tasks ----------------------------------------------------------------------------

const COLUMNS = [
  ["status", "Status", (t) => STATUSES.indexOf(t.status)],
  ["id", "Task", (t) => t.id],
  ["job", "Job", (t) => t.job],
  [null, "Matrix"],
  ["duration", "Duration", (t) => t.duration_seconds ?? -1],
  ["attempts", "Attempts", (t) => t.attempts.length],
  ["tokens", "Tokens", tokensOf],
  ["tool_calls", "Tool calls", (t) => t.tool_calls || 0],
  ["denials", "Denials", (t) => t.permission_denials || 0],
  ["changed_files", "Changed files", (t) => (t.changed_files || []).length],
  [null, "Answer or error"],
];

function matrixText(task) {
  return Object.entries(task.matrix || {}).map(([key, value]) =>
    `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`).join(" ");
}

function taskRow(task) {
  const files = task.changed_files || [];
  return el("tr", { class: "task-row", "data-task-id": task.id, "data-status": task.status, "data-job": task.job },
    el("td", { class: "status" }, statusSpan(task.status)),
    el("td", { class: "task-id" }, taskLink(task.id)),
    el("td", { class: "job", text: task.job }),
    el("td", { class: "matrix mono", text: matrixText(task) }),
    el("td", { class: "duration num", text: seconds(task.duration_seconds) }),
    el("td", { class: "attempts num", text: String(task.attempts.length) }),
    el("td", { class: "tokens num", text: tokensText(task.usage) }),
    el("td", { class: "tool-calls num", text: String(task.tool_calls || 0) }),
    el("td", { class: "denials num", text: String(task.permission_denials || 0) }),
    el("td", { class: "changed-files num", title: files.join("\n"), text: String(files.length) }),
    el("td", { class: "answer", text: short(answerOf(task), 90) }));
}

function renderTasks(section) {
  const jobs = [...new Set(TASKS.map((task) => task.job))];
  const statuses = STATUSES.filter((status) => TASKS.some((task) => task.status === status));
  const rows = new Map(TASKS.map((task) => [task.id, taskRow(task)]));
  const tbody = el("tbody", {}, [...rows.values()]);
  const filters = {
    status: el("select", { id: "filter-status" }, el("option", { value: "", text: "all statuses" }),
      statuses.map((status) => el("option", { value: status, text: status }))),
    job: el("select", { id: "filter-job" }, el("option", { value: "", text: "all jobs" }),
      jobs.map((job) => el("option", { value: job, text: job }))),
    text: el("input", { id: "filter-text", type: "search", placeholder: "id, matrix, answer, error" }),
  };
  const haystack = new Map(TASKS.map((task) => [task.id,
    [task.id, matrixText(task), task.final_message || "", task.error || ""].join("\n").toLowerCase()]));
  const applyFilters = () => {
    const text = filters.text.value.trim().toLowerCase();
    let shown = 0;
    for (const task of TASKS) {
      const hide = (filters.status.value && task.status !== filters.status.value)
        || (filters.job.value && task.job !== filters.job.value)
        || (text && !haystack.get(task.id).includes(text));
      rows.get(task.id).hidden = Boolean(hide);
      shown += hide ? 0 : 1;
    }
    count.textContent = `${shown} of ${TASKS.length} tasks`;
  };
  const count = el("span", { class: "muted" });
  for (const control of Object.values(filters)) control.addEventListener("input", applyFilters);
  const head = el("tr", {}, COLUMNS.map(([key, label]) =>
    el("th", { "data-sort": key, class: ["duration", "attempts", "tokens", "tool_calls", "denials", "changed_files"].includes(key) ? "num" : null, text: label })));
  head.addEventListener("click", (event) => {
    const th = event.target.closest("th[data-sort]");
    if (th) sortBy(th, head, tbody, rows);
  });
  section.append(el("h2", { text: "Tasks" }),
    el("div", { class: "filters" }, filters.status, filters.job, filters.text, count),
    el("table", { id: "tasks-table" }, el("thead", {}, head), tbody),
    el("h2", { text: "Timeline" }),
    el("p", { class: "muted", text: "Each attempt is a bar; a dotted line is waiting: for a slot before the first attempt, a back-off between attempts." }),
    timeline());
  applyFilters();
}

function sortBy(th, head, tbody, rows) {
  const key = th.dataset.sort;
  const descending = th.classList.contains("asc");
  for (const other of head.querySelectorAll("th")) other.classList.remove("asc", "desc");
  th.classList.add(descending ? "desc" : "asc");
  const valueOf = COLUMNS.find((column) => column[0] === key)[2];
  const sorted = [...TASKS].sort((a, b) => {
    const va = valueOf(a), vb = valueOf(b);
    const order = typeof va === "number" ? va - vb : String(va).localeCompare(String(vb));
    return (descending ? -order : order) || a.id.localeCompare(b.id);
  });
  tbody.append(...sorted.map((task) => rows.get(task.id)));
}

function timeline() {
  const spans = TASKS.flatMap((task) => task.attempts.filter((a) => a.started_at && a.finished_at));
  const end = Math.max(DATA.run.duration_seconds || 0, ...spans.map((a) => since(a.finished_at)), 0.001);
  const rowHeight = TASKS.length <= 60 ? 16 : 7;
  const label = rowHeight >= 12 ? 170 : 0;
  const width = 1000, plot = width - label - 20;
  const x = (t) => label + (Math.max(t, 0) / end) * plot;
  const svg = svgEl("svg", { width, height: TASKS.length * rowHeight + 24, role: "img" });
  TASKS.forEach((task, row) => {
    const top = row * rowHeight + 2;
    const middle = top + rowHeight / 2 - 1;
    if (label) svg.append(svgEl("text", { x: 2, y: top + rowHeight - 4, "font-size": 11 }, task.id));
    let waitingSince = 0;
    for (const attempt of task.attempts) {
      if (!attempt.started_at) continue;
      const start = since(attempt.started_at);
      const finish = attempt.finished_at ? since(attempt.finished_at) : start;
      svg.append(svgEl("line", { class: "timeline-wait", x1: x(waitingSince), x2: x(start), y1: middle, y2: middle }));
      const bar = svgEl("rect", {
        class: `timeline-bar ${attempt.status}`, "data-task-id": task.id, "data-attempt": attempt.attempt,
        x: x(start), y: top, width: Math.max(x(finish) - x(start), 2), height: rowHeight - 3 },
        svgEl("title", {}, `${task.id} attempt ${attempt.attempt}: ${attempt.status}, ` +
          `${seconds(start)} → ${seconds(finish)}${attempt.error ? `\n${attempt.error}` : ""}`));
      bar.style.cursor = "pointer";
      bar.addEventListener("click", () => { location.hash = `task=${encodeURIComponent(task.id)}`; });
      svg.append(bar);
      waitingSince = finish;
    }
  });
  const axis = TASKS.length * rowHeight + 16;
  svg.append(svgEl("text", { x: label, y: axis, "font-size": 11 }, "0s"),
    svgEl("text", { x: label + plot, y: axis, "font-size": 11, "text-anchor": "end" }, seconds(end)));
  return el("div", { id: "timeline" }, svg);
}

// ---- one task ----------------------------------------------------------------------------

function renderTask(section, id) {
  const task = BY_ID.get(id);
  section.dataset.taskId = id;
  if (!task) {
    section.append(el("p", { class: "error", text: `This run has no task ${id}.` }));
    return;
  }
  const attempts = task.attempts;
  section.append(
    el("div", { id: "task-header" },
      el("h2", {}, el("code", { class: "task-id", text: task.id }), " ", statusSpan(task.status)),
      el("p", {}, `job ${task.job}`, task.matrix && Object.keys(task.matrix).length ? ` · ${matrixText(task)}` : "",
        ` · ${seconds(task.duration_seconds)} · ${tokensText(task.usage)} tokens · ${task.tool_calls || 0} tool calls`,
        ` · ${attempts.length} attempt${attempts.length === 1 ? "" : "s"}`,
        task.reused_from ? ` · reused from run ${task.reused_from}` : ""),
      task.error ? el("pre", { class: "error task-error", text: `${task.error_type ? `${task.error_type}: ` : ""}${task.error}` }) : null),
    el("h3", { text: "Transcript" }), transcript(task),
    el("h3", { text: "Output" }), el("pre", { id: "task-output", text: task.output === undefined || task.output === null ? "(no structured output)" : pretty(task.output) }),
    el("h3", { text: "Findings" }), findings(task),
    el("h3", { text: "Changes" }), diff(task));
}

function attemptSeparator(task, number) {
  const attempt = task.attempts.find((a) => a.attempt === number) || {};
  return el("div", { class: "attempt", "data-attempt": number },
    `Attempt ${number}`, attempt.status ? ` · ${attempt.status}` : "",
    attempt.started_at ? ` · started at ${seconds(since(attempt.started_at))}` : "",
    attempt.error ? ` · ${attempt.error}` : "");
}

function transcript(task) {
  const node = el("div", { class: "transcript" });
  const calls = new Map();
  let attempt = null;
  if (!task.events.length) node.append(el("p", { class: "muted", text: "No event log: the task did not start a session." }));
  for (const event of task.events) {
    if (event.attempt !== attempt) {
      attempt = event.attempt;
      node.append(attemptSeparator(task, attempt));
    }
    const shown = renderEvent(event, calls);
    if (shown) node.append(shown);
  }
  return node;
}

function renderEvent(event, calls) {
  const d = event.data;
  switch (event.type) {
    case "system.message":
      return el("details", { class: "msg system" }, el("summary", { class: "who", text: "System message" }),
        el("pre", { text: sharedText(d.content) }));
    case "user.message":
      return el("div", { class: "msg user" }, el("div", { class: "who", text: "User" }), el("pre", { text: d.content || "" }));
    case "assistant.message":
      if (!d.content) return null;
      return el("div", { class: "msg assistant" }, el("div", { class: "who", text: d.parentToolCallId ? "Sub-agent" : "Assistant" }), markdown(d.content));
    case "assistant.reasoning":
      return el("details", { class: "reasoning" }, el("summary", { class: "who", text: "Reasoning" }), el("pre", { text: d.content || "" }));
    case "tool.execution_start": {
      const call = el("div", { class: "tool-call", "data-tool-call-id": d.toolCallId || "" },
        el("span", { class: "tool-name", text: d.toolName || "tool" }),
        el("pre", { class: "tool-args", text: pretty(d.arguments ?? {}) }));
      calls.set(d.toolCallId, call);
      return call;
    }
    case "tool.execution_complete":
      return toolResult(d, calls);
    case "copilot_batch.permission":
      return el("div", { class: `permission ${d.decision}` },
        el("strong", { class: "decision", text: `Permission ${d.decision}` }), ` ${d.kind} `,
        el("code", { text: d.target }), " by ", el("code", { class: "rule", text: d.rule }));
    case "copilot_batch.hook":
      return el("div", { class: "hook" }, el("strong", { text: `Hook ${d.hook}` }), ` ${d.handler}: ${d.decision}`,
        d.tool ? ` (${d.tool})` : "", d.reason ? ` — ${d.reason}` : "");
    case "copilot_batch.sandbox_denial":
      return el("div", { class: "permission deny sandbox" }, el("strong", { text: "Sandbox refused " }), d.denial,
        d.command ? el("code", { text: ` ${d.command}` }) : null);
    case "copilot_batch.question":
      return el("div", { class: "note" }, el("strong", { text: "Question " }), d.question, " → ", el("em", { text: d.answer }));
    case "copilot_batch.step":
      return el("div", { class: "note step" }, el("strong", { text: `Step ${d.step}` }), d.model ? ` · model ${d.model}` : "", d.mode ? ` · mode ${d.mode}` : "");
    case "skill.invoked":
      return el("details", { class: "note skill" }, el("summary", { text: `Skill ${d.name} loaded` }), el("pre", { text: sharedText(d.content) }));
    case "session.error":
      return el("div", { class: "error" }, el("strong", { text: `Error${d.errorType ? ` (${d.errorType})` : ""}: ` }), d.message || "",
        d.statusCode ? ` [HTTP ${d.statusCode}]` : "");
    case "session.warning":
      return el("div", { class: "note warning" }, el("strong", { text: "Warning: " }), d.message || "");
    case "assistant.turn_retry":
      return el("div", { class: "note retry" }, el("strong", { text: "The model call was retried: " }), d.message || d.reason || "");
    default:
      if (event.type.startsWith("subagent.")) {
        return el("div", { class: "note subagent" }, `Sub-agent ${d.agentName || ""} ${event.type.slice(9)}`, d.error ? `: ${d.error}` : "");
      }
      return null;
  }
}

function toolResult(d, calls) {
  const result = d.result || (d.error ? { text: typeof d.error === "string" ? d.error : d.error.message || pretty(d.error) } : { text: "" });
  const node = el("details", { class: `tool-result${d.success === false ? " failed" : ""}`, open: result.text.length < 2000 },
    el("summary", { text: d.success === false ? "Failed" : "Result" }),
    el("pre", { text: result.text }),
    result.truncated_from ? el("div", { class: "truncated",
      text: `Cut to ${num(result.text.length)} of ${num(result.truncated_from)} characters.` }) : null);
  const call = calls.get(d.toolCallId);
  if (call) {
    call.append(node);
    return null;
  }
  return el("div", { class: "tool-call orphan" }, el("span", { class: "tool-name", text: "tool result" }), node);
}

function findings(task) {
  const list = task.output && Array.isArray(task.output.findings) ? task.output.findings : null;
  if (!list) return el("p", { id: "task-findings", class: "muted", text: "No findings." });
  return el("table", { id: "task-findings" },
    el("thead", {}, el("tr", {}, ["Severity", "File", "Line", "Finding"].map((name) => el("th", { text: name })))),
    el("tbody", {}, list.map((f) => el("tr", { class: "finding" },
      el("td", { class: `severity-${f.severity}`, text: f.severity ?? "" }), el("td", { class: "mono", text: f.file ?? "" }),
      el("td", { class: "num", text: f.line ?? "" }), el("td", { text: f.message ?? "" })))));
}

function diff(task) {
  if (!task.patch) return el("p", { class: "muted", text: "No changes." });
  const node = el("pre", { class: "diff" });
  for (const line of task.patch.text.split("\n")) {
    let kind = "diff-context";
    if (/^(diff --git|index |--- |\+\+\+ |new file|deleted file|similarity|rename )/.test(line)) kind = "diff-file";
    else if (line.startsWith("@@")) kind = "diff-hunk";
    else if (line.startsWith("+")) kind = "diff-add";
    else if (line.startsWith("-")) kind = "diff-del";
    node.append(el("span", { class: kind, text: line || " " }));
  }
  if (task.patch.truncated_from) {
    node.append(el("span", { class: "truncated", text: `Cut to ${num(task.patch.text.length)} of ${num(task.patch.truncated_from)} characters; the whole patch is ${task.id}'s changes.patch.` }));
  }
  return node;
}

// ---- routing ------------------------------------------------------------------------------

const VIEWS = {
  run: document.getElementById("run-view"),
  tasks: document.getElementById("tasks-view"),
  task: document.getElementById("task-view"),
};
const rendered = new Set();

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
  const taskId = hash.startsWith("task=") ? hash.slice(5) : null;
  const name = taskId !== null ? "task" : hash === "tasks" ? "tasks" : "run";
  if (name === "task") {
    VIEWS.task.replaceChildren();
    renderTask(VIEWS.task, taskId);  // only the opened task's transcript is built
    window.scrollTo(0, 0);
  } else if (!rendered.has(name)) {
    (name === "run" ? renderRun : renderTasks)(VIEWS[name]);
    rendered.add(name);
  }
  for (const [key, view] of Object.entries(VIEWS)) view.hidden = key !== name;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.getAttribute("href") === `#${name}`);
  }
}

document.getElementById("title").textContent = `copilot-batch run ${DATA.run.run_id}`;
window.addEventListener("hashchange", route);
route();
