import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { readPeakRssKb } from './rss.js';

/** Options of {@link ManagedProcess}. */
export interface ManagedProcessOptions {
  /** Short unique name, e.g. `worker-1`; also the log file name. */
  name: string;
  /** Kind of process, for the report. */
  role: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Directory for `<name>.log` (stdout and stderr). */
  logDir: string;
  /** Called with every stdout line (pino JSON), e.g. to watch ownership events. */
  onLine?: (line: string) => void;
}

/** How a process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/**
 * A real child process driven by the chaos suite: started, killed with SIGKILL, stopped and
 * continued (SIGSTOP/SIGCONT), terminated gracefully. Its peak RSS is sampled from /proc while it
 * lives, because a killed process takes its VmHWM with it.
 */
export class ManagedProcess {
  readonly name: string;
  readonly role: string;
  private child?: ChildProcess;
  private exitPromise?: Promise<ProcessExit>;
  private exitInfo?: ProcessExit;
  private logStream?: fs.WriteStream;
  /** Peak resident set size seen, in KiB. */
  peakRssKb = 0;
  startedAt = 0;
  /** How the process ended, once it did. */
  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  constructor(private readonly options: ManagedProcessOptions) {
    this.name = options.name;
    this.role = options.role;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  get logFile(): string {
    return path.join(this.options.logDir, `${this.name}.log`);
  }

  start(): this {
    const o = this.options;
    fs.mkdirSync(o.logDir, { recursive: true });
    this.logStream = fs.createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.startedAt = Date.now();
    const log = this.logStream;
    const out = readline.createInterface({ input: child.stdout! });
    out.on('line', (line) => {
      log.write(`${line}\n`);
      o.onLine?.(line);
    });
    child.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal, at: Date.now() };
        log.write(
          `==== chaos: exited code=${code} signal=${signal} at ${new Date().toISOString()}\n`,
        );
        resolve(this.exitInfo);
      });
    });
    return this;
  }

  /** Record the current peak RSS; call periodically. */
  sample(): void {
    if (!this.alive || this.pid === undefined) return;
    const kb = readPeakRssKb(this.pid);
    if (kb !== undefined && kb > this.peakRssKb) this.peakRssKb = kb;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive || this.pid === undefined) throw new Error(`${this.name} is not running`);
    if (sig === 'SIGKILL') this.sample();
    process.kill(this.pid, sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill9(): Promise<ProcessExit> {
    this.signal('SIGKILL');
    return this.waitForExit();
  }

  async waitForExit(): Promise<ProcessExit> {
    if (!this.exitPromise) throw new Error(`${this.name} was never started`);
    return this.exitPromise;
  }

  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`. */
  async terminate(graceMs = 15_000): Promise<ProcessExit | undefined> {
    if (!this.alive) return this.exitInfo;
    this.sample();
    try {
      process.kill(this.pid!, 'SIGCONT');
      process.kill(this.pid!, 'SIGTERM');
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      if (this.alive) process.kill(this.pid!, 'SIGKILL');
    }, graceMs);
    try {
      return await this.waitForExit();
    } finally {
      clearTimeout(timer);
    }
  }

  async closeLog(): Promise<void> {
    const s = this.logStream;
    if (!s) return;
    await new Promise<void>((resolve) => s.end(resolve));
  }
}
