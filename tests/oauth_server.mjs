// A real OAuth 2.1 / OIDC authorization server for the tests: `oauth2-mock-server` (npm), signing JWTs with RS256
// keys it publishes at /jwks, on free loopback ports.
//
//   node tests/oauth_server.mjs <dir holding node_modules/oauth2-mock-server>
//
// Prints one JSON line on stdout once listening, then serves until stdin closes or SIGTERM:
//   {"issuer": "http://127.0.0.1:P", "rogue_same_kid": "http://127.0.0.1:Q", "rogue_new_kid": "http://127.0.0.1:R"}
// The rogue servers sign tokens that *claim* the real issuer with keys the real JWKS does not publish (one reusing the
// real key's kid, one with a kid of its own): what an attacker forging tokens would produce.
//
// Token requests are the server's own client_credentials grant (POST /token) plus a few test-only fields applied to
// the token before signing: `aud`, `scope` (standard for this server), `sub`, `client_id`, `expires_in` (seconds from
// now, may be negative), `nbf_in`. Test-only routes on the real issuer:
//   POST /_test/add-key      a new signing key (published at /jwks; the keys then sign in turn) → {"kid": ...}
//   POST /_test/opaque       an opaque (non-JWT) token remembered with the given claims → {"access_token": ...}
//   POST /_test/introspect   RFC 7662 for those opaque tokens; HTTP Basic client test-client:test-client-secret
import { randomBytes } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";

const pkg = path.join(process.argv[2] ?? ".", "node_modules", "oauth2-mock-server", "dist", "index.mjs");
const { OAuth2Server, Events } = await import(pathToFileURL(pkg).href);

const INTROSPECTION_CLIENT = Buffer.from("test-client:test-client-secret").toString("base64");

function applyTestClaims(token, req) {
  const body = req.body ?? {};
  const now = Math.floor(Date.now() / 1000);
  for (const claim of ["sub", "client_id"]) {
    if (typeof body[claim] === "string") token.payload[claim] = body[claim];
  }
  if (body.expires_in !== undefined) token.payload.exp = now + Number(body.expires_in);
  if (body.nbf_in !== undefined) token.payload.nbf = now + Number(body.nbf_in);
  for (const claim of Object.keys(token.payload)) {
    if (token.payload[claim] === undefined) delete token.payload[claim];
  }
}

async function start(issuerUrl, kid) {
  const server = new OAuth2Server();
  await server.issuer.keys.generate("RS256", kid ? { kid } : undefined);
  await server.start(0, "127.0.0.1");
  server.issuer.url = issuerUrl ?? `http://127.0.0.1:${server.address().port}`;
  server.service.on(Events.BeforeTokenSigning, applyTestClaims);
  return server;
}

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
}

const real = await start();
const realKid = real.issuer.keys.toJSON()[0].kid;
const rogueSameKid = await start(real.issuer.url, realKid);
const rogueNewKid = await start(real.issuer.url);
const opaque = new Map();

real.service.addRoute("POST", "/_test/add-key", async (_req, res) => {
  const jwk = await real.issuer.keys.generate("RS256");
  sendJson(res, 200, { kid: jwk.kid });
});
real.service.addRoute("POST", "/_test/opaque", (req, res) => {
  const token = randomBytes(24).toString("hex");
  const body = req.body ?? {};
  const now = Math.floor(Date.now() / 1000);
  opaque.set(token, {
    active: true,
    iss: real.issuer.url,
    sub: body.sub,
    client_id: body.client_id ?? "opaque-client",
    scope: body.scope,
    aud: body.aud,
    exp: now + Number(body.expires_in ?? 3600),
  });
  sendJson(res, 200, { access_token: token, token_type: "Bearer" });
});
real.service.addRoute("POST", "/_test/introspect", (req, res) => {
  if (req.headers.authorization !== `Basic ${INTROSPECTION_CLIENT}`) {
    sendJson(res, 401, { error: "invalid_client" });
    return;
  }
  const claims = opaque.get(String((req.body ?? {}).token ?? ""));
  sendJson(res, 200, claims && claims.exp > Date.now() / 1000 ? claims : { active: false });
});

process.stdout.write(
  JSON.stringify({
    issuer: real.issuer.url,
    rogue_same_kid: `http://127.0.0.1:${rogueSameKid.address().port}`,
    rogue_new_kid: `http://127.0.0.1:${rogueNewKid.address().port}`,
  }) + "\n",
);

async function shutdown() {
  await Promise.allSettled([real.stop(), rogueSameKid.stop(), rogueNewKid.stop()]);
  process.exit(0);
}
process.stdin.on("end", shutdown);
process.stdin.resume();
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
