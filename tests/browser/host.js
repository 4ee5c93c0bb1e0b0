// A test MCP Apps host built on the official host side of @modelcontextprotocol/ext-apps (AppBridge).
// Bundled with esbuild into .cache/ext-apps/host.bundle.js by tests/components.py; nothing here reaches a network:
// MCP requests go to `window.__mcp(method, params)`, which the Python test exposes and forwards to a real neev-mcp.
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";

// Host theme variables, as a host such as Claude sends them in hostContext.styles.variables.
const THEMES = {
  light: {
    "--color-background-primary": "#ffffff", "--color-background-secondary": "#f5f4ef",
    "--color-background-tertiary": "#ebe9e1", "--color-text-primary": "#1f1e1b", "--color-text-secondary": "#5e5d59",
    "--color-text-tertiary": "#87867f", "--color-border-secondary": "#d9d7ce", "--color-border-tertiary": "#e8e6dc",
    "--color-text-success": "#1f7a3f", "--color-background-success": "#e7f3ea", "--color-text-danger": "#b42318",
    "--color-background-danger": "#fdecea", "--color-border-danger": "#f3c7c2", "--color-text-info": "#2b5fc9",
    "--color-background-info": "#e9effc", "--color-ring-primary": "#2b5fc9",
    "--font-sans": "'DejaVu Sans', system-ui, sans-serif", "--border-radius-md": "10px",
  },
  dark: {
    "--color-background-primary": "#262624", "--color-background-secondary": "#30302e",
    "--color-background-tertiary": "#3a3a37", "--color-text-primary": "#f2f1ec", "--color-text-secondary": "#b7b5ac",
    "--color-text-tertiary": "#8d8b83", "--color-border-secondary": "#4a4945", "--color-border-tertiary": "#3b3a37",
    "--color-text-success": "#5cc98a", "--color-background-success": "#1d3326", "--color-text-danger": "#ff8f85",
    "--color-background-danger": "#3d2220", "--color-border-danger": "#6b332e", "--color-text-info": "#8fb1ff",
    "--color-background-info": "#1f2a44", "--color-ring-primary": "#8fb1ff",
    "--font-sans": "'DejaVu Sans', system-ui, sans-serif", "--border-radius-md": "10px",
  },
};

const mcp = async (method, params) => JSON.parse(await window.__mcp(method, JSON.stringify(params)));

// The host enforces the view's CSP itself (the declared domains; none here), as real hosts do.
function withCsp(html, csp) {
  const list = (xs) => (xs && xs.length ? " " + xs.join(" ") : "");
  const connect = csp.connectDomains && csp.connectDomains.length ? csp.connectDomains.join(" ") : "'none'";
  const res = list(csp.resourceDomains);
  const policy = `default-src 'none'; script-src 'unsafe-inline'${res}; style-src 'unsafe-inline'${res}; ` +
    `img-src data:${res}; font-src${res || " 'none'"}; connect-src ${connect}; frame-src 'none'; base-uri 'none'`;
  return html.replace(/<head>/i, `<head><meta http-equiv="Content-Security-Policy" content="${policy}">`);
}

window.__host = { calls: [], modelContext: [], errors: [] };

window.hostStart = async ({ theme }) => {
  document.documentElement.dataset.theme = theme;
  const tools = (await mcp("tools/list", {})).tools;
  const overview = tools.find((t) => t.name === "project_overview");
  const uri = getToolUiResourceUri(overview);
  const content = (await mcp("resources/read", { uri })).contents[0];
  if (content.mimeType !== "text/html;profile=mcp-app") throw new Error("not an MCP App: " + content.mimeType);
  const csp = (content._meta && content._meta.ui && content._meta.ui.csp) || {};

  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "allow-scripts");  // an opaque origin: no cookies, storage or host DOM
  frame.title = "neev-mcp dashboard";
  document.getElementById("slot").append(frame);

  const bridge = new AppBridge(null, { name: "neev-test-host", version: "1.0.0" },
    { serverTools: {}, serverResources: {}, updateModelContext: { text: {} } },
    { hostContext: { theme, styles: { variables: THEMES[theme] }, displayMode: "inline", platform: "web",
      locale: "en-GB", containerDimensions: { maxHeight: 6000, width: frame.clientWidth } } });
  bridge.oncalltool = async (params) => {
    const tool = tools.find((t) => t.name === params.name);
    const visibility = (tool && tool._meta && tool._meta.ui && tool._meta.ui.visibility) || ["model", "app"];
    if (!tool || !visibility.includes("app")) throw new Error(`tool ${params.name} is not callable by the app`);
    window.__host.calls.push({ name: params.name, arguments: params.arguments });
    return mcp("tools/call", { name: params.name, arguments: params.arguments || {} });
  };
  bridge.onsizechange = ({ height }) => { if (height) frame.style.height = `${height}px`; };
  bridge.onupdatemodelcontext = async (params) => { window.__host.modelContext.push(params); return {}; };
  bridge.oninitialized = async () => {
    // What a chat host does when the model called project_overview: the arguments, then the result.
    await bridge.sendToolInput({ arguments: {} });
    const result = await mcp("tools/call", { name: "project_overview", arguments: {} });
    await bridge.sendToolResult(result);
  };
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  frame.srcdoc = withCsp(content.text, csp);
  window.__host.bridge = bridge;
  return { uri, csp };
};
