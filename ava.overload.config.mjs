// The overload test pins every core with stress-ng for a minute: it runs on its own, after the main
// suite (`npm test`), so that it starves no other test's timing and no other test disturbs its margin.
export default {
  files: ['dist/test/agent/overload.test.js'],
  timeout: '5m',
  concurrency: 1,
  workerThreads: false,
  verbose: true,
};
