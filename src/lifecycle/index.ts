export {
  FORCED_EXIT_CODE,
  Releasers,
  installShutdown,
  onShutdownSignals,
  type Closeable,
  type InstallShutdownOptions,
  type ShutdownSignalOptions,
} from './lifecycle.js';
export { SignalGate, type SignalGateOptions, type SignalVerdict } from './signal-gate.js';
