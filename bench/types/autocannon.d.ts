// The subset of autocannon 8 the closed-loop fallback uses (the package ships no types).
declare module 'autocannon' {
  interface AutocannonRequest {
    setupRequest?: (request: Record<string, unknown>) => Record<string, unknown>;
  }
  interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    requests?: AutocannonRequest[];
  }
  interface AutocannonResult {
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    requests: { total: number; average: number };
  }
  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;
  export default autocannon;
}
