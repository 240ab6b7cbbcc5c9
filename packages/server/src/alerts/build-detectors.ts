import type { AlertsPolicy } from '../policy/policy.js';
import type { Detector } from './detector.js';
import { AuthFailureDetector } from './detectors/auth-failure-burst.js';
import { FirstUseDetector } from './detectors/first-use.js';
import { InvalidCiphertextDetector } from './detectors/invalid-ciphertext-burst.js';
import { OffHoursDetector } from './detectors/off-hours-admin.js';
import { VersionUseDetector } from './detectors/version-use.js';
import { VolumeSpikeDetector } from './detectors/volume-spike.js';

/** The detectors the policy enables, configured with its thresholds. */
export function buildDetectors(alerts: AlertsPolicy): Detector[] {
  const detectors: Detector[] = [];
  if (alerts.firstUse.enabled) detectors.push(new FirstUseDetector(alerts.firstUse) as Detector);
  if (alerts.volume.enabled) detectors.push(new VolumeSpikeDetector(alerts.volume) as Detector);
  if (alerts.invalidCiphertext.enabled) detectors.push(new InvalidCiphertextDetector(alerts.invalidCiphertext) as Detector);
  if (alerts.compromisedVersionUse.enabled || alerts.deactivatedVersionUse.enabled) {
    detectors.push(new VersionUseDetector(alerts.compromisedVersionUse, alerts.deactivatedVersionUse) as Detector);
  }
  if (alerts.authFailures.enabled) detectors.push(new AuthFailureDetector(alerts.authFailures) as Detector);
  if (alerts.offHours.enabled) detectors.push(new OffHoursDetector(alerts.offHours) as Detector);
  return detectors;
}
