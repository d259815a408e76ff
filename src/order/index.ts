export { orderKeys, removeOrderState, type OrderKeys } from './keys.js';
export { OrderScripts, type AdmitReply } from './order-scripts.js';
export {
  SourceOrder,
  type OrderFailurePolicy,
  type OrderWaitOptions,
  type SourceOrderEvents,
  type SourceOrderOptions,
} from './source-order.js';
