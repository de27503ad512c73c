import { describe, expect, it } from 'vitest';
import { createDeviceRouter, type DeviceView } from '../../../runtime/device-router.js';
import { digest } from '../../helpers/weights-digest.js';

/** Nothing resident anywhere, every engine up, unless a test says otherwise. */
function view(resident: Record<number, string[]> = {}, down: number[] = []): DeviceView {
  return { resident: (d, key) => resident[d]?.includes(key) ?? false, up: (d) => !down.includes(d), residentCount: (d) => resident[d]?.length ?? 0 };
}

describe('device router', () => {
  it('sends a model seen for the first time to the device that owes the fewest tokens', () => {
    const router = createDeviceRouter(3);
    expect(router.pick(digest('a'), 100, view())).toBe(0);
    expect(router.pick(digest('b'), 100, view())).toBe(1);
    expect(router.pick(digest('c'), 100, view())).toBe(2);
    expect(router.owed()).toEqual([100, 100, 100]);
  });

  it('sends a new model to the idle device holding the fewest models', () => {
    const router = createDeviceRouter(2);
    expect(router.pick(digest('new'), 10, view({ 0: ['x', 'y'], 1: ['z'] }))).toBe(1);
  });

  it('keeps a model with requests in flight on their device, so the new one joins the batch', () => {
    const router = createDeviceRouter(2);
    expect(router.pick(digest('a'), 1000, view())).toBe(0);
    // device 1 owes nothing, but a second copy of a's weights would cost more than batching with it
    expect(router.pick(digest('a'), 1000, view())).toBe(0);
    expect(router.owed()).toEqual([2000, 0]);
  });

  it("prefers a device where the weights are resident, then the model's home", () => {
    const router = createDeviceRouter(2);
    expect(router.pick(digest('a'), 10, view({ 1: ['a'] }))).toBe(1);
    router.finished(1, digest('a'), 10);
    expect(router.pick(digest('x'), 10, view())).toBe(0);
    // a's weights left device 1 since, but its home (and host mapping) is still there
    expect(router.pick(digest('a'), 10, view())).toBe(1);
  });

  it('spills a popular model to the least loaded device once its own owes 4000 tokens more', () => {
    const router = createDeviceRouter(2);
    const devices = Array.from({ length: 25 }, () => router.pick(digest('hot'), 200, view()));
    expect(devices.slice(0, 21).every((d) => d === 0)).toBe(true); // 21 * 200 = 4200 owed on device 0
    expect(devices.slice(21)).toContain(1);
    // from then on both devices run it, and new requests go to whichever owes less
    expect(new Set(devices)).toEqual(new Set([0, 1]));
  });

  it('counts delivered tokens and the undelivered rest at the end', () => {
    const router = createDeviceRouter(2);
    router.pick(digest('a'), 100, view());
    router.progress(0, 30);
    expect(router.owed()).toEqual([70, 0]);
    router.finished(0, digest('a'), 70);
    expect(router.owed()).toEqual([0, 0]);
  });

  it('avoids a device whose engine is down while another is up, and uses it when none is', () => {
    const router = createDeviceRouter(2);
    expect(router.pick(digest('a'), 10, view({ 0: ['a'] }, [0]))).toBe(1);
    expect(router.pick(digest('b'), 10, view({}, [0, 1]))).toBe(0);
  });

  it('keeps a planned home ahead of a device holding the weights, and spills past a multiple of the mean when so configured', () => {
    const homes: Record<string, number> = { a: 1, b: 0 };
    const router = createDeviceRouter(4, { spillSlackTokens: 4000, spillMeanFactor: 2, preferResident: false, plannedHome: (key) => homes[key] });
    expect(router.pick(digest('a'), 100, view({ 0: ['a'] }))).toBe(1);
    router.finished(1, digest('a'), 100);
    expect(router.pick(digest('b'), 100, view({ 2: ['b'] }))).toBe(0);
    // b owes 100 on device 0; 2 × the mean (4 devices) + 4000 is far off until device 0 owes 8000 more.
    for (let i = 0; i < 39; i++) expect(router.pick(digest('b'), 200, view())).toBe(0);
    expect(router.owed()).toEqual([7900, 0, 0, 0]);
    // 8100 > 2 × 8100/4 + 4000 = 8050: the next one spills to the least loaded device.
    expect(router.pick(digest('b'), 200, view())).toBe(0);
    expect(router.pick(digest('b'), 200, view())).toBe(1);
  });

  it('refuses a node without devices', () => {
    expect(() => createDeviceRouter(0)).toThrow(/at least one device/);
  });
});
