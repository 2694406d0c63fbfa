// The Vercel AI SDK's default OpenAI path against a trtllm-nix proxy: createOpenAI({baseURL, apiKey}) and
// openai(model), whose default is the Responses API with store on. A multi-step tool loop after reasoning, through
// generateText and streamText: step 2 onwards send the earlier reasoning (and the assistant's text) back as
// {"type": "item_reference", "id": "rs_..."}, which the proxy resolves from its store.
//
// Usage: node ai_sdk_responses.mjs BASE_URL MODEL scripted|model [CHECK] (only the check named CHECK), run from a copy in .cache/ai-sdk (scripts/setup-ai-sdk
// installs there): ES modules resolve packages next to the script, never through NODE_PATH.
// Prints one line per check ("ok   ..." or "FAIL ...: reason"); the exit status is the number of failed checks.
// AI_SDK_SENT=FILE: the request bodies the SDK sent, as JSON, written to FILE at the end.
//
// scripted: the scripted demo replays the text after the last "#reply:" in the prompt, so the prompt scripts a
// thought and a first call, the first tool result a thought and a second call, the second a thought and the answer:
// three steps, each with reasoning, the reasoning shown as the AI SDK reads it (the reasoning item's summary:
// providerOptions.openai reasoningSummary "auto"; forceReasoning, since "qwen3" is no model the SDK knows).
// model: a real small model (SmolLM2-135M) that neither thinks nor picks a tool by itself: step 1 is forced
// (toolChoice "required", parallelToolCalls false), later steps answer; the loop must go on past the call and end in
// text within the step bound.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, isStepCount, streamText, tool } from "ai";
import { z } from "zod";

globalThis.AI_SDK_LOG_WARNINGS = false; // one line per check

const [base, model, mode, only] = process.argv.slice(2);
if (!base || !model || !["scripted", "model"].includes(mode)) {
  console.log("FAIL usage: node ai_sdk_responses.mjs BASE_URL MODEL scripted|model [CHECK]");
  process.exit(2);
}
const scripted = mode === "scripted";
const sent = []; // every /responses body the SDK sent, for what it references
const openai = createOpenAI({
  baseURL: base,
  apiKey: "unused",
  fetch: async (url, init) => {
    if (String(url).endsWith("/responses") && init?.body) sent.push(JSON.parse(init.body));
    return fetch(url, init);
  },
});

const call = (city) => `<tool_call>\n{"name": "get_weather", "arguments": {"city": "${city}"}}\n</tool_call>`;
const reply = (thought, answer) => (scripted ? ` #reply: <think>${thought}</think>${answer}` : "");
const weather = { Paris: "sunny, 21 C", Rome: "cloudy, 18 C" };
const tools = {
  get_weather: tool({
    description: "The current weather of a city",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      const sky = weather[city] ?? "unknown";
      if (city === "Paris") return `${sky}${reply("Now Rome.", call("Rome"))}`;
      return `${sky}${reply("I have both.", "Paris is sunny, Rome is cloudy.")}`;
    },
  }),
};
// the SDK's defaults: no provider options (store on; "qwen3" is no reasoning model the SDK knows, so it asks no summary)
const defaults = {
  model: openai(model),
  tools,
  stopWhen: isStepCount(3),
  maxOutputTokens: scripted ? 256 : 48, // a real 135M model on two CPU cores: about 20 tokens a second
  prompt: `What is the weather in Paris, then in Rome? Use the tool.${reply("I should check Paris first.", call("Paris"))}`,
  ...(scripted ? {} : {
    prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? "required" : "auto" }),
    // one forced call, then the grammar ends: with parallel calls allowed SmolLM2 repeats the call until the token
    // limit, the step finishes with "length" and the loop (rightly) stops there
    providerOptions: { openai: { parallelToolCalls: false } },
  }),
};
// reasoning shown: the SDK reads a reasoning item's summary, asked for with reasoningSummary (sent as
// reasoning.summary only for a reasoning model: forceReasoning)
const summarized = {
  ...defaults,
  providerOptions: { openai: { ...defaults.providerOptions?.openai, forceReasoning: true, reasoningSummary: "auto" } },
};

function references(from) {
  return sent.slice(from).flatMap((body) => (Array.isArray(body.input) ? body.input : []))
    .filter((item) => item.type === "item_reference").map((item) => item.id);
}

function describe(steps, text, from, started, shown) {
  const calls = steps.flatMap((step) => step.toolCalls.map((c) => `${c.toolName}(${JSON.stringify(c.input)})`));
  const thoughts = steps.map((step) => step.reasoningText ?? "").filter((thought) => thought);
  const refs = references(from);
  if (scripted) {
    const expected = shown ? ["I should check Paris first.", "Now Rome.", "I have both."] : [];
    if (steps.length !== 3) throw new Error(`${steps.length} steps, not 3: ${JSON.stringify(steps.map((s) => s.finishReason))}`);
    if (JSON.stringify(thoughts) !== JSON.stringify(expected)) throw new Error(`reasoning as read: ${JSON.stringify(thoughts)}`);
    if (text !== "Paris is sunny, Rome is cloudy.") throw new Error(`final text ${JSON.stringify(text)}`);
    if (!refs.some((id) => id.startsWith("rs_"))) throw new Error(`no reasoning item_reference sent: ${JSON.stringify(refs)}`);
  } else {
    if (calls.length < 1) throw new Error("no tool call in step 1 (toolChoice required)");
    if (steps.length < 2) throw new Error(`the loop ended after step 1: ${steps[0].finishReason}`);
    if (!text) throw new Error(`no final text after ${steps.length} steps`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  return `${steps.length} steps, ${calls.join(", ")}, reasoning ${JSON.stringify(thoughts)}, ` +
    `${refs.length} item_reference(s) (${[...new Set(refs.map((id) => id.split("_")[0]))].join("/")}) -> ` +
    `${JSON.stringify(text.slice(0, 40))} in ${seconds} s`;
}

async function generated(settings, shown) {
  const from = sent.length;
  const started = Date.now();
  const result = await generateText(settings);
  return describe(result.steps, result.text, from, started, shown);
}

async function streamed(settings, shown) {
  const from = sent.length;
  const started = Date.now();
  let failure;
  const result = streamText({ ...settings, onError: ({ error }) => { failure = error; } });
  let deltas = "";
  let reasoningDeltas = 0;
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") deltas += part.text;
    if (part.type === "reasoning-delta") reasoningDeltas += 1;
  }
  if (failure) throw failure;
  const steps = await result.steps;
  const text = await result.text;
  if (!deltas.endsWith(text)) throw new Error(`streamed ${JSON.stringify(deltas)}, final text ${JSON.stringify(text)}`);
  if (scripted && shown && reasoningDeltas === 0) throw new Error("no reasoning deltas streamed");
  return `${describe(steps, text, from, started, shown)}, ${reasoningDeltas} reasoning deltas`;
}

const checks = {
  "ai-sdk generateText tool loop, defaults": () => generated(defaults, false),
  "ai-sdk generateText tool loop, reasoningSummary auto": () => generated(summarized, true),
  "ai-sdk streamText tool loop, reasoningSummary auto": () => streamed(summarized, true),
};

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  if (only && name !== only) continue;
  try {
    console.log(`ok   ${name}: ${await check()}`);
  } catch (error) {
    failed += 1;
    const detail = error?.responseBody ? ` (${error.statusCode}: ${error.responseBody.slice(0, 300)})` : "";
    console.log(`FAIL ${name}: ${String(error?.message ?? error).split("\n")[0]}${detail}`);
  }
}
if (process.env.AI_SDK_SENT) { // what the SDK sent, for a transcript
  const { writeFileSync } = await import("node:fs");
  writeFileSync(process.env.AI_SDK_SENT, JSON.stringify(sent, null, 1));
}
process.exit(failed);
