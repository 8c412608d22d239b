/** Express 4 under the npm alias `express4` (a dev dependency): the same API as the `express` types describe, for the tests. */
declare module 'express4' {
  import express from 'express';
  export default express;
}
