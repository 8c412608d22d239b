/**
 * deploy/kubernetes: built by `kubectl kustomize` (what `kubectl apply -k`
 * applies), each object validated against the Kubernetes OpenAPI schemas
 * (kubernetes-models' compiled validators), and the settings that make a
 * rollout safe checked against the service itself: probe paths, the shutdown
 * timeline, the user the image runs as, and the configuration the pods get.
 * (`kubectl apply --dry-run=client` needs an API server even for its client-side
 * run, to map kinds to resources, and none runs here.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigError, DRAIN_DEADLINE_MS, loadConfig } from '../../src/config/config.js';
import { parseDuration } from '../../src/config/duration.js';
import { readDockerfile, stages } from '../support/dockerfile.js';
import { REPO_ROOT } from '../support/process.js';

const DIR = join(REPO_ROOT, 'deploy/kubernetes');

type Obj = Record<string, any>;

function kustomize(): Obj[] {
  const result = spawnSync('kubectl', ['kustomize', DIR], { encoding: 'utf8' });
  assert.equal(result.status, 0, `kubectl kustomize failed: ${result.error ?? result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => {
    assert.deepEqual(doc.errors, []);
    return doc.toJS() as Obj;
  });
}

/** The kubernetes-models class for an object's apiVersion and kind. */
async function model(object: Obj): Promise<new (data: Obj) => { validate(): void }> {
  const path = object.apiVersion === 'v1' ? 'v1' : object.apiVersion;
  const module = (await import(`kubernetes-models/${path}/${object.kind}`)) as Record<string, new (data: Obj) => { validate(): void }>;
  const Model = module[object.kind];
  assert.ok(Model !== undefined, `no model for ${object.apiVersion} ${object.kind}`);
  return Model;
}

const objects = kustomize();
const find = (kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0]!;
};
const deployment = find('Deployment');
const configMap = find('ConfigMap');
const secret = find('Secret');
const pod = deployment.spec.template;
const container = pod.spec.containers[0];
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([name, value]) => labels[name] === value);

describe('deploy/kubernetes', () => {
  test('kustomization lists every manifest in the folder, and kubectl builds one object from each', () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as { resources: string[] };
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    assert.deepEqual([...kustomization.resources].sort(), files);
    assert.deepEqual(objects.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service']);
  });

  test('every object is valid against the Kubernetes schema of its kind', async () => {
    for (const object of objects) {
      const Model = await model(object);
      assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`);
    }
  });

  test('the schema check rejects a malformed object (it can fail)', async () => {
    const Model = await model(deployment);
    const broken = structuredClone(deployment);
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    assert.throws(() => new Model(broken).validate(), /containerPort/);
    const unlabelled = structuredClone(deployment);
    delete unlabelled.spec.selector;
    assert.throws(() => new Model(unlabelled).validate(), /selector/);
  });

  test('probes: liveness and startup on /healthz, readiness on /readyz, on the port Tessera listens on', () => {
    const port = container.ports.find((p: Obj) => p.name === container.livenessProbe.httpGet.port);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.startupProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, port.name);
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(String(port.containerPort), env.TESSERA_PORT);
    assert.equal(env.TESSERA_HOST, '0.0.0.0', 'the kubelet probes the pod IP, not loopback');
  });

  test('shutdown: preStop waits as long as TESSERA_SHUTDOWN_DELAY, and the grace period covers both and the drain deadline', () => {
    const delayMs = parseDuration(configMap.data.TESSERA_SHUTDOWN_DELAY);
    assert.ok(delayMs !== null && delayMs > 0);
    const [sleep, seconds] = container.lifecycle.preStop.exec.command as string[];
    assert.equal(sleep, 'sleep');
    assert.equal(Number(seconds) * 1000, delayMs);
    const neededSeconds = (Number(seconds) * 1000 + delayMs + DRAIN_DEADLINE_MS) / 1000;
    assert.ok(pod.spec.terminationGracePeriodSeconds > neededSeconds, `grace ${pod.spec.terminationGracePeriodSeconds} s ≤ ${neededSeconds} s`);
  });

  test('resources: CPU and memory requests, a memory limit above the L1 bound', () => {
    const { requests, limits } = container.resources;
    assert.ok(requests.cpu && requests.memory && limits.memory);
    const bytes = (quantity: string) => {
      const [, amount, unit] = /^(\d+)(Mi|Gi)$/.exec(quantity) ?? [];
      assert.ok(amount !== undefined, `memory quantity ${quantity} in Mi or Gi`);
      return Number(amount) * 2 ** (unit === 'Gi' ? 30 : 20);
    };
    const l1 = loadConfig({ TESSERA_API_KEYS: 'a:0123456789abcdef', TESSERA_STORE: 'redis', TESSERA_REDIS_URL: 'redis://x:6379' }).l1.maxBytes;
    assert.ok(bytes(limits.memory) > 2 * l1, `limit ${limits.memory} leaves room beside ${l1 / 2 ** 20} MiB of L1`);
  });

  test('the pod runs as the image\'s non-root user, read-only, without privileges', () => {
    const user = stages(readDockerfile()).at(-1)!.instructions.filter((i) => i.getKeyword() === 'USER').at(-1)!.getArgumentsContent()!;
    assert.equal(pod.spec.securityContext.runAsNonRoot, true);
    assert.equal(String(pod.spec.securityContext.runAsUser), user.split(':')[0]);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  });

  test('Service, PodDisruptionBudget and HorizontalPodAutoscaler point at the Deployment\'s pods', () => {
    const labels = pod.metadata.labels;
    assert.ok(matches(deployment.spec.selector.matchLabels, labels));
    const service = find('Service');
    assert.ok(matches(service.spec.selector, labels));
    assert.ok(container.ports.some((p: Obj) => p.name === service.spec.ports[0].targetPort));
    const pdb = find('PodDisruptionBudget');
    assert.ok(matches(pdb.spec.selector.matchLabels, labels));
    const hpa = find('HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
    assert.ok(pdb.spec.maxUnavailable < hpa.spec.minReplicas, 'a drain never takes every pod');
    assert.equal(deployment.spec.replicas, undefined, 'the autoscaler owns the replica count');
  });

  test('the pods\' environment is a configuration Tessera accepts, once the placeholder key is replaced', () => {
    const sources = container.envFrom.map((s: Obj) => s.configMapRef?.name ?? s.secretRef?.name);
    assert.deepEqual(sources, [configMap.metadata.name, secret.metadata.name]);
    const env = {
      ...configMap.data,
      ...Object.fromEntries(container.env.filter((e: Obj) => 'value' in e).map((e: Obj) => [e.name, e.value])),
    };
    const config = loadConfig({ ...env, TESSERA_API_KEYS: 'storefront:0123456789abcdef0123' });
    assert.equal(config.store.engine, 'redis');
    assert.equal(config.shutdownDelayMs, parseDuration(configMap.data.TESSERA_SHUTDOWN_DELAY));
  });

  test('the committed Secret holds a placeholder that Tessera refuses to start with', () => {
    const value = secret.stringData.TESSERA_API_KEYS;
    assert.throws(() => loadConfig({ ...configMap.data, TESSERA_API_KEYS: value }), (error: unknown) => error instanceof ConfigError && error.variable === 'TESSERA_API_KEYS');
  });
});
