// A memory system in JavaScript, benchmarked by membench through its worker protocol.
//
// It reads one JSON request per line on stdin and writes one JSON response per line on stdout
// (membench/systems/worker/protocol.py is the whole specification). Memory: every turn verbatim;
// retrieval: the turns sharing the most words with the query. No dependencies beyond Node itself.
"use strict";
const readline = require("readline");

let turns = [];          // {text, session_id, timestamp}
let bySession = new Map();

const words = (text) => new Set(text.toLowerCase().match(/[a-z0-9]+/g) || []);

function handle(method, params) {
  switch (method) {
    case "start":
      return { protocol: 1, name: "node-keywords",
               capabilities: { session_memories: true, answers: false } };
    case "reset":
      turns = []; bySession = new Map();
      return null;
    case "ingest": {
      const s = params.session;
      const stored = s.turns.map((t) => ({ text: `${t.role}: ${t.content}`, session_id: s.session_id,
                                           timestamp: t.timestamp || s.start_time || null }));
      turns.push(...stored);
      bySession.set(s.session_id, stored);
      return null;
    }
    case "settle":
    case "close":
      return null;
    case "retrieve": {
      const q = words(params.query);
      return turns
        .map((m, i) => ({ m, i, score: [...words(m.text)].filter((w) => q.has(w)).length }))
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .slice(0, params.k)
        .map(({ m, score }) => ({ ...m, score }));
    }
    case "session_memories":
      return bySession.get(params.session.session_id) || [];
    default:
      throw new Error(`unknown method ${method}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const { id, method, params } = JSON.parse(line);
  let response;
  try {
    response = { id, result: handle(method, params || {}) };
  } catch (err) {
    response = { id, error: { type: err.name, message: err.message, kind: "error" } };
  }
  process.stdout.write(JSON.stringify(response) + "\n");
  if (method === "close") process.exit(0);
});
