/** Broker version, reported in helloOk and the management API. */
export const VERSION = '0.1.0';
