// The two services the console talks to: the stack's Cognito user pool (sign-in, from the browser, with the
// app client's USER_PASSWORD_AUTH flow) and the public API (with the user's ID token). Nothing else.

export const config = JSON.parse(document.getElementById("console-config").textContent);

const SESSION_KEY = "costmetrics.console.session";

/** The API answered 401: the token expired or is no longer valid; the user signs in again. */
export class SessionExpired extends Error {
  constructor() {
    super("Your session has expired or is no longer valid: sign in again.");
    this.name = "SessionExpired";
  }
}

/** An answer that is not a success, from the API or from Cognito, with the message it gave. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }

  describe() {
    const where = this.status ? `${this.status} ${this.code}` : this.code;
    const details = this.details
      .map((d) => [d.field, d.problem].filter(Boolean).join(": "))
      .filter(Boolean);
    return `${where}: ${this.message}${details.length ? ` (${details.join("; ")})` : ""}`;
  }
}

// --- The session: the ID token, in this tab only ------------------------------------------------------

function decodeClaims(token) {
  const part = String(token).split(".")[1] || "";
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** The signed-in user, read from the ID token's claims (the API verifies the token; this only shows it). */
export function currentUser() {
  let stored;
  try {
    stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    stored = null;
  }
  if (!stored || typeof stored.idToken !== "string") return null;
  let claims;
  try {
    claims = decodeClaims(stored.idToken);
  } catch {
    return null;
  }
  const raw = claims["cognito:groups"];
  const groups = new Set(Array.isArray(raw) ? raw : String(raw || "").split(/[\s,]+/).filter(Boolean));
  return {
    token: stored.idToken,
    name: claims.email || claims["cognito:username"] || claims.sub || "signed in",
    workspace: claims["custom:workspace_id"] || "",
    groups,
    isAdmin: groups.has("admin"),
    canRead: groups.has("admin") || groups.has("viewer"),
  };
}

export function startSession(idToken) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ idToken }));
}

export function endSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

// --- Cognito -----------------------------------------------------------------------------------------------

async function cognito(action, body) {
  if (!config.cognitoEndpoint || !config.clientId) {
    throw new ApiError(0, "not_configured", "This stage's console has no Cognito endpoint or app client.");
  }
  let reply;
  try {
    reply = await fetch(config.cognitoEndpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}`,
      },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network_error", `Cognito (${config.cognitoEndpoint}) could not be reached.`);
  }
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    const type = String(data.__type || reply.headers.get("x-amzn-errortype") || "Error");
    const code = type.split("#").pop().split(":")[0];
    throw new ApiError(reply.status, code, data.message || data.Message || `Cognito answered ${reply.status}`);
  }
  return data;
}

function signedIn(result) {
  const token = result.AuthenticationResult && result.AuthenticationResult.IdToken;
  if (!token) throw new ApiError(0, "no_token", "Cognito answered without an ID token.");
  startSession(token);
  return { signedIn: true };
}

/** USER_PASSWORD_AUTH; a user created with a temporary password gets the NEW_PASSWORD_REQUIRED challenge. */
export async function signIn(username, password) {
  const result = await cognito("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.clientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (result.ChallengeName === "NEW_PASSWORD_REQUIRED") {
    return { challenge: result.ChallengeName, session: result.Session, username };
  }
  if (result.ChallengeName) {
    throw new ApiError(0, result.ChallengeName, `Cognito asks for ${result.ChallengeName}, which the console does not handle.`);
  }
  return signedIn(result);
}

export async function setNewPassword(challenge, newPassword) {
  const result = await cognito("RespondToAuthChallenge", {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: config.clientId,
    Session: challenge.session,
    ChallengeResponses: { USERNAME: challenge.username, NEW_PASSWORD: newPassword },
  });
  return signedIn(result);
}

// --- The API ----------------------------------------------------------------------------------------------

function queryString(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** One call of the API with the user's ID token; the parsed JSON answer, or ApiError / SessionExpired. */
export async function request(method, path, { query, body } = {}) {
  const user = currentUser();
  if (!user) throw new SessionExpired();
  const headers = { Authorization: `Bearer ${user.token}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let reply;
  try {
    reply = await fetch(config.apiBase + path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network_error", "The API could not be reached: check the connection and try again.");
  }
  if (reply.status === 401) {
    endSession();
    throw new SessionExpired();
  }
  const text = await reply.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!reply.ok) {
    const error = data && typeof data === "object" ? data : {};
    throw new ApiError(
      reply.status,
      error.error || `http_${reply.status}`,
      error.message || `The API answered ${reply.status}.`,
      error.details,
    );
  }
  return data;
}

export const get = (path, query) => request("GET", path, { query });
export const put = (path, body) => request("PUT", path, { body });
/** A JSON Merge Patch (RFC 7396): only the fields given change. */
export const patch = (path, body) => request("PATCH", path, { body });
