import type { ModelAnnouncement } from '@edge-ml/contracts';

/** Identifies an announced version the way the loader does: name@version#sha256 (no hash for a seed body). */
export function announcementKey(announcement: Pick<ModelAnnouncement, 'name' | 'version' | 'sha256'>): string {
  return `${announcement.name}@${announcement.version}#${announcement.sha256 ?? ''}`;
}
