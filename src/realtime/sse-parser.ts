/** One Server-Sent Event as the EventSource algorithm dispatches it. */
export interface SseEvent {
  /** `message` unless the server set `event:`. */
  event: string;
  data: string;
  /** The last event id seen on the stream so far (it persists across events, as in browsers). */
  lastEventId: string;
}

/**
 * Incremental parser of a `text/event-stream`, following the HTML specification's rules (lines
 * end in CR, LF or CRLF; `data` lines join with LF; comments start with `:`; `id` persists; an
 * event with no data is not dispatched). Works on any chunking of the input.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private sawCr = false;
  lastEventId = '';
  /** The `retry:` value last sent by the server, in ms. */
  retry: number | undefined;

  constructor(initialLastEventId = '') {
    this.lastEventId = initialLastEventId;
  }

  /** Feed text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let s = this.buffer + text;
    if (this.sawCr && s.startsWith('\n')) s = s.slice(1);
    this.sawCr = false;
    let start = 0;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      this.line(s.slice(start, i), out);
      if (ch === 13) {
        if (i + 1 < s.length) {
          if (s.charCodeAt(i + 1) === 10) i++;
        } else this.sawCr = true;
      }
      start = i + 1;
    }
    this.buffer = s.slice(start);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.data.length > 0) {
        out.push({
          event: this.event || 'message',
          data: this.data.join('\n'),
          lastEventId: this.lastEventId,
        });
      }
      this.data = [];
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) this.lastEventId = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}
