// What an agent does with neev-mcp, driven by a client nobody here wrote: the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk), over stdio or streamable HTTP. tests/test_ts_client.py runs it and checks its output.
//
//   node flows.mjs --sdk DIR --transport stdio --python PYTHON --sandbox URL [--slow-sandbox URL]
//   node flows.mjs --sdk DIR --transport http --url http://127.0.0.1:PORT/mcp --sandbox URL
//
// --sdk: the folder whose node_modules holds the SDK (.cache/ts-client). --sandbox: the HTTP sandbox neev-mcp talks
// to (for stdio this script starts `PYTHON -m neev_mcp` on it). --slow-sandbox: a sandbox whose clock is frozen, for
// the wait that outlasts the client's 60 s request timeout (one `wait_for_vm` call of ~40 s).
//
// Every step checks the result; the first failed check exits 1 naming the step. Output: one JSON line per step
// ({"step", "ok", ...}), then {"done": true, "transport", "vms": {...}} naming the VMs created and deleted.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    sdk: { type: "string" }, transport: { type: "string" }, python: { type: "string", default: "python3" },
    url: { type: "string" }, sandbox: { type: "string" }, "slow-sandbox": { type: "string" },
  },
});
const sdk = async (path) =>
  import(pathToFileURL(resolve(opt.sdk, "node_modules/@modelcontextprotocol/sdk/dist/esm", path)).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { ElicitRequestSchema } = await sdk("types.js");

const TOKEN = process.env.NEEV_API_TOKEN;
const PREFIX = `ts-${opt.transport}`;
const CREATE = {
  region_id: "in-mum-1", vm_config_id: "vcpu-2-ram-8", plan_id: "hourly",
  root_disk: { create_disk_request: { name: "root", size_gb: 50, image_id: "ubuntu-24.04" } },
};

class Failed extends Error {}
function check(step, condition, what, detail) {
  if (!condition) throw new Failed(`${step}: ${what}${detail === undefined ? "" : `\n  got: ${JSON.stringify(detail)}`}`);
}
const say = (step, extra = {}) => console.log(JSON.stringify({ step, ok: true, ...extra }));
const text = (result) => (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text).join("\n");

// A client of neev-mcp: `elicit` answers the confirmation dialog (undefined: no elicitation capability at all).
// Over HTTP it connects to --url (a server on --sandbox); otherwise, and for the frozen sandbox, it starts
// `PYTHON -m neev_mcp` over stdio on `apiBase`.
async function connect(name, { elicit, apiBase = opt.sandbox } = {}) {
  const client = new Client({ name: `neev-ts-${name}`, version: "1.0.0" },
    { capabilities: elicit ? { elicitation: { form: {} } } : {} });
  if (elicit) client.setRequestHandler(ElicitRequestSchema, async (request) => elicit(request.params));
  const transport = opt.transport === "http" && apiBase === opt.sandbox
    ? new StreamableHTTPClientTransport(new URL(opt.url))
    : new StdioClientTransport({
      command: opt.python, args: ["-m", "neev_mcp"], stderr: "inherit",
      env: { ...process.env, NEEV_API_BASE_URL: `${apiBase}/vm`, NEEV_MCP_LOG_LEVEL: "WARNING" },
    });
  await client.connect(transport);
  return client;
}

async function call(client, step, name, args, options) {
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  check(step, !result.isError, `${name} answered isError`, text(result));
  return result;
}

async function waitFor(client, step, vmId, target) {
  const result = await call(client, step, "wait_for_vm", { vm_id: vmId, target_status: target, timeout_seconds: 30 });
  check(step, result.structuredContent?.reached === true, `wait_for_vm did not reach ${target}`, result.structuredContent);
  const says = target === "deleted" ? text(result).includes(" is deleted: it no longer exists")
    : text(result).startsWith(`Reached ${target} after `);
  check(step, says, "the text does not say it was reached", text(result));
  say(step, { status: result.structuredContent.status });
}

async function createVm(client, step, name) {
  const result = await call(client, step, "create_vm", { ...CREATE, name });
  const vm = result.structuredContent ?? {};
  check(step, typeof vm.id === "string" && vm.name === name, "create_vm returned no VM with that name", vm);
  say(step, { id: vm.id, status: vm.status });
  return vm.id;
}

async function lifecycle(vms) {
  const agent = await connect("agent");
  const tools = (await agent.listTools()).tools;
  const names = tools.map((t) => t.name);
  for (const want of ["list_vms", "project_overview", "create_vm", "wait_for_vm", "stop_vm", "start_vm", "delete_vm"]) {
    check("tools/list", names.includes(want), `no tool ${want}`, names);
  }
  const timeout = tools.find((t) => t.name === "wait_for_vm").inputSchema.properties.timeout_seconds;
  check("tools/list", timeout.default <= 45 && timeout.maximum < 60, "wait_for_vm may outlive a 60 s client", timeout);
  say("tools/list", { count: tools.length });

  const listed = await call(agent, "list_vms", "list_vms", { limit: 10 });
  check("list_vms", text(listed).includes("web-1"), "the seeded VM web-1 is not listed", text(listed));
  say("list_vms");
  const overview = await call(agent, "project_overview", "project_overview", {});
  check("project_overview", Number.isInteger(overview.structuredContent?.vm_total), "no vm_total",
    overview.structuredContent);
  check("project_overview", text(overview).startsWith("Project demo-org/demo-project: "), "unexpected text",
    text(overview));
  say("project_overview", { vm_total: overview.structuredContent.vm_total });

  vms.first = await createVm(agent, "create_vm", `${PREFIX}-1`);
  await waitFor(agent, "wait running", vms.first, "running");
  const stopped = await call(agent, "stop_vm", "stop_vm", { vm_id: vms.first });
  check("stop_vm", text(stopped).length > 0, "empty answer");
  say("stop_vm");
  await waitFor(agent, "wait stopped", vms.first, "stopped");
  await call(agent, "start_vm", "start_vm", { vm_id: vms.first });
  say("start_vm");
  await waitFor(agent, "wait running again", vms.first, "running");
  vms.second = await createVm(agent, "create_vm (second)", `${PREFIX}-2`);
  await waitFor(agent, "wait second running", vms.second, "running");
  await agent.close();
}

async function gatedDeletes(vms) {
  const name = `${PREFIX}-1`;
  // 1. the user declines: nothing is deleted, and the answer says so
  const asked = [];
  const declining = await connect("declines", { elicit: async (params) => { asked.push(params); return { action: "decline" }; } });
  const declined = await declining.callTool({ name: "delete_vm", arguments: { vm_id: vms.first } });
  check("delete declined", declined.isError === true, "a declined delete must be an error result", text(declined));
  check("delete declined", text(declined) === `VM ${name} (${vms.first}) was not deleted: the user declined. Do not retry ` +
    "unless the user asks again.", "unexpected text", text(declined));
  check("delete declined", asked.length === 1 && asked[0].message.includes(`type its name exactly: ${name}`),
    "the dialog did not ask for the name", asked);
  check("delete declined", Object.keys(asked[0].requestedSchema.properties).length === 1, "the form is not one field",
    asked[0].requestedSchema);
  const still = await call(declining, "delete declined", "get_vm", { vm_id: vms.first });
  check("delete declined", still.structuredContent?.status === "running", "the VM is no longer running",
    still.structuredContent);
  await declining.close();
  say("delete declined");

  // 2. the user accepts, typing the name into the one field the form has
  const accepting = await connect("accepts", {
    elicit: async (params) => {
      const field = Object.keys(params.requestedSchema.properties)[0];
      return { action: "accept", content: { [field]: name } };
    },
  });
  const accepted = await call(accepting, "delete accepted", "delete_vm", { vm_id: vms.first });
  check("delete accepted", text(accepted).startsWith(`Deletion of VM ${name} (${vms.first}) accepted; it is now 'deleting'.`),
    "unexpected text", text(accepted));
  await waitFor(accepting, "wait deleted (accepted)", vms.first, "deleted");
  await accepting.close();
  vms.deleted.push(vms.first);
  say("delete accepted");

  // 3. a client that cannot ask the user: a preview with a confirmation_token, then the confirmed call
  const plain = await connect("no-elicitation");
  const preview = await call(plain, "delete by token", "delete_vm", { vm_id: vms.second });
  const sc = preview.structuredContent ?? {};
  check("delete by token", sc.confirmation_required === true && sc.executed === false &&
    typeof sc.confirmation_token === "string", "no confirmation preview", sc);
  const done = await call(plain, "delete by token", "delete_vm",
    { vm_id: vms.second, confirmation_token: sc.confirmation_token });
  check("delete by token", text(done).startsWith(`Deletion of VM ${PREFIX}-2 (${vms.second}) accepted;`),
    "unexpected text", text(done));
  await waitFor(plain, "wait deleted (token)", vms.second, "deleted");
  await plain.close();
  vms.deleted.push(vms.second);
  say("delete by token");
}

// A VM slower than the client's patience: the SDK's default 60 s request timeout, the tool's default timeout.
async function slowWait(vms) {
  const slow = opt["slow-sandbox"];
  const agent = await connect("slow", { apiBase: slow });
  vms.slow = await createVm(agent, "create_vm (slow)", `${PREFIX}-slow`);
  let progress = 0;
  const started = Date.now();
  let first;
  try {  // no `timeout` option: the SDK's own default (60 s), as hosts use it
    first = await agent.callTool({ name: "wait_for_vm", arguments: { vm_id: vms.slow, target_status: "running" } },
      undefined, { onprogress: () => { progress += 1; } });
  } catch (error) {
    check("slow wait", false, "wait_for_vm failed in the client (e.g. -32001 Request timed out)", String(error));
  }
  const seconds = (Date.now() - started) / 1000;
  const sc = first.structuredContent ?? {};
  check("slow wait", !first.isError && sc.timed_out === true && sc.reached === false, "expected a timed-out wait", sc);
  check("slow wait", text(first).startsWith(`Still waiting after 40s: VM ${PREFIX}-slow (${vms.slow}) is pending`),
    "unexpected text", text(first));
  check("slow wait", text(first).includes("This is not a failure: call wait_for_vm again with the same arguments"),
    "the text does not say how to continue", text(first));
  check("slow wait", progress >= 5, "too few progress notifications", progress);
  const next = sc.continue_with;
  check("slow wait", next?.tool === "wait_for_vm" && next.arguments.vm_id === vms.slow &&
    next.arguments.target_status === "running" && next.arguments.timeout_seconds === 40, "no continue_with", next);
  say("slow wait", { seconds, progress, continue_with: next });
  // time passes in the frozen sandbox; the call continue_with names then reaches running
  const advanced = await fetch(`${slow}/_sandbox/clock/advance`, { method: "POST", body: JSON.stringify({ seconds: 60 }) });
  check("slow wait", advanced.ok, "could not move the sandbox clock", advanced.status);
  const second = await call(agent, "slow wait continued", next.tool, next.arguments);
  check("slow wait continued", second.structuredContent?.reached === true, "did not reach running", second.structuredContent);
  say("slow wait continued");
  await agent.close();
}

const vms = { deleted: [] };
try {
  check("setup", TOKEN, "NEEV_API_TOKEN is not set");
  await lifecycle(vms);
  await gatedDeletes(vms);
  if (opt["slow-sandbox"]) await slowWait(vms);
  console.log(JSON.stringify({ done: true, transport: opt.transport, vms }));
} catch (error) {
  console.error(`FAIL (${opt.transport}) ${error instanceof Failed ? error.message : error.stack}`);
  process.exit(1);
}
