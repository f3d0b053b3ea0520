// The agent version written into every node record (a test pins it to package.json).

/** beacon's version. */
export const VERSION = '0.1.0';
