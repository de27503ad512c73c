import type { ChatFamily } from './chat-family.js';
import { DeltaLog, newToolCallId, type ChatDelta, type ParsedToolCalls } from './tool-call-deltas.js';
import { ToolCallScanner, type ScanEvent } from './tool-call-scanner.js';
import { PYTHON_TAG, TOOL_CALL_CLOSE, TOOL_CALL_OPEN, toolCallSyntax, type ToolCallSyntax } from './tool-call-syntax.js';

type Mode = 'detect' | 'text' | 'call' | 'after-call' | 'skip' | 'plain';

/**
 * Turns a completion's text, fed as it streams, into OpenAI chat deltas: plain content passes through;
 * a tool call becomes a first delta with its id and name, then fragments of its arguments as they arrive.
 * Text that might be the start of a call (a partial `<tool_call>`, Llama's opening `{"name"`) and whitespace
 * before it are held until decided. A call whose text breaks before its name is known goes out as content
 * after all; one that breaks later cannot be taken back and is listed in `malformed`.
 */
export class ToolCallStreamParser {
  private readonly syntax: ToolCallSyntax;
  private readonly log: DeltaLog;
  private mode: Mode;
  private held = '';
  private scanner: ToolCallScanner | undefined;
  private finished = false;
  private readonly retractable: boolean;
  /** With `retractable`: the call being read, committed only once it closes as valid JSON. */
  private pending = { name: '', arguments: '' };
  /** The whitespace dropped before the open tag, given back if the call turns out not to be one. */
  private beforeTag = '';

  /**
   * `retractable`: nothing of a call is emitted until it has closed and parsed, so a broken call stays
   * content (for whole completions, where nothing has been sent yet).
   */
  constructor(family: ChatFamily, options: { newId?: () => string; retractable?: boolean } = {}) {
    this.syntax = toolCallSyntax(family);
    this.log = new DeltaLog(options.newId ?? newToolCallId);
    this.mode = this.syntax.kind === 'tagged' ? 'text' : 'detect';
    this.retractable = options.retractable ?? false;
  }

  push(text: string): ChatDelta[] {
    if (this.finished) throw new Error('ToolCallStreamParser: push after finish');
    this.held += text;
    return this.advance(false);
  }

  /** Ends the stream: releases held text (trailing whitespace after calls is dropped). */
  finish(): ChatDelta[] {
    this.finished = true;
    return this.advance(true);
  }

  result(): ParsedToolCalls {
    return this.log.result(this.mode === 'call' && this.committed(this.scanner));
  }

  private advance(end: boolean): ChatDelta[] {
    const out: ChatDelta[] = [];
    for (;;) {
      const before = `${this.mode}:${this.held.length}`;
      out.push(...this.step(end));
      if (`${this.mode}:${this.held.length}` === before) return out;
    }
  }

  private step(end: boolean): ChatDelta[] {
    switch (this.mode) {
      case 'plain':
        return this.take(this.held.length);
      case 'detect':
        return this.detect(end);
      case 'text':
        return this.text(end);
      case 'call':
        return this.call(end);
      case 'after-call':
        return this.afterCall(end);
      case 'skip':
        return this.skip();
    }
  }

  /** Emits the first `n` held characters as content. */
  private take(n: number): ChatDelta[] {
    const text = this.held.slice(0, n);
    this.held = this.held.slice(n);
    return this.log.text(text);
  }

  /** Llama: a call can only open the answer; hold the start until it is one or cannot be. */
  private detect(end: boolean): ChatDelta[] {
    const start = this.held.trimStart();
    const body = start.startsWith(PYTHON_TAG) ? start.slice(PYTHON_TAG.length).trimStart() : start;
    if (/^\{\s*"name"/.test(body)) {
      this.held = body;
      return this.openCall();
    }
    const brace = /^\{\s*/.exec(body);
    const undecided = PYTHON_TAG.startsWith(start) || (brace !== null && '"name"'.startsWith(body.slice(brace[0].length)));
    if (!undecided || end) this.mode = 'plain';
    return [];
  }

  /** Tagged: pass text through up to a `<tool_call>`, holding a partial tag and the whitespace before it. */
  private text(end: boolean): ChatDelta[] {
    const at = this.held.indexOf(TOOL_CALL_OPEN);
    if (at >= 0) {
      const before = this.held.slice(0, at).trimEnd();
      this.beforeTag = this.held.slice(before.length, at);
      this.held = this.held.slice(at + TOOL_CALL_OPEN.length);
      return [...this.log.text(before), ...this.openCall()];
    }
    if (end) return this.take(this.log.callCount > 0 ? this.held.trimEnd().length : this.held.length);
    const undecided = this.held.slice(0, this.held.length - partialSuffix(this.held, TOOL_CALL_OPEN));
    return this.take(undecided.trimEnd().length);
  }

  private openCall(): ChatDelta[] {
    this.mode = 'call';
    this.scanner = new ToolCallScanner(this.syntax.argumentsKeys);
    return [];
  }

  private call(end: boolean): ChatDelta[] {
    const scanner = this.scanner!;
    const input = this.held;
    this.held = '';
    const out: ChatDelta[] = [];
    for (const event of scanner.push(input)) out.push(...this.onScan(event, scanner));
    if (end && this.mode === 'call' && !this.committed(scanner)) out.push(...this.revert(scanner, this.held));
    return out;
  }

  /** Whether the call being read has been emitted in part (so it can no longer become content). */
  private committed(scanner: ToolCallScanner | undefined): boolean {
    return !this.retractable && scanner?.started === true;
  }

  private onScan(event: ScanEvent, scanner: ToolCallScanner): ChatDelta[] {
    switch (event.kind) {
      case 'name':
        if (this.retractable) this.pending = { name: event.name, arguments: '' };
        return this.retractable ? [] : this.log.start(event.name);
      case 'arguments':
        if (this.retractable) this.pending.arguments += event.text;
        return this.retractable ? [] : this.log.arguments(event.text);
      case 'end':
        if (this.retractable && !isJsonObject(this.pending.arguments)) return this.revert(scanner, event.rest + this.held);
        this.held = event.rest + this.held;
        this.mode = 'after-call';
        return this.retractable ? [...this.log.start(this.pending.name), ...this.log.arguments(this.pending.arguments)] : [];
      case 'error':
        if (!this.committed(scanner)) return this.revert(scanner, event.rest + this.held);
        this.log.malformed.push(this.log.callCount - 1);
        this.held = event.rest + this.held;
        this.mode = this.syntax.kind === 'tagged' ? 'skip' : 'plain';
        return [];
    }
  }

  /** A call that broke before its name: its text goes back to being content (tagged: re-read after the tag). */
  private revert(scanner: ToolCallScanner, rest: string): ChatDelta[] {
    this.held = scanner.raw + rest;
    if (this.syntax.kind === 'bare-json') {
      this.mode = 'plain';
      return [];
    }
    this.mode = 'text';
    return this.log.text(this.beforeTag + TOOL_CALL_OPEN);
  }

  /** After a call: the closing tag (tagged) or `;` and another call (bare JSON); anything else is content. */
  private afterCall(end: boolean): ChatDelta[] {
    const rest = this.held.trimStart();
    if (this.syntax.kind === 'tagged') {
      if (rest.startsWith(TOOL_CALL_CLOSE)) {
        this.held = rest.slice(TOOL_CALL_CLOSE.length);
        this.mode = 'text';
      } else if (end || !TOOL_CALL_CLOSE.startsWith(rest)) {
        this.mode = 'text';
      }
      return [];
    }
    if (rest.startsWith(';')) {
      this.held = rest.slice(1);
      return this.openCall();
    }
    if (rest === '') {
      if (end) this.held = '';
      return [];
    }
    this.held = rest;
    this.mode = 'plain';
    return [];
  }

  /** A broken call whose name was already streamed: drop its text up to its closing tag. */
  private skip(): ChatDelta[] {
    const at = this.held.indexOf(TOOL_CALL_CLOSE);
    if (at < 0) {
      this.held = this.held.slice(this.held.length - partialSuffix(this.held, TOOL_CALL_CLOSE));
      return [];
    }
    this.held = this.held.slice(at + TOOL_CALL_CLOSE.length);
    this.mode = 'text';
    return [];
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Length of the longest suffix of `text` that is a proper prefix of `tag`. */
function partialSuffix(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (tag.startsWith(text.slice(text.length - n))) return n;
  return 0;
}
