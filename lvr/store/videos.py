"""Videos, their ~10 s clips and clip captions (with caption history).

Part of `Workspace` (see workspace.py); every method here runs on `self.conn`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .values import dumps, now


def _decode_video(row: dict) -> dict:
    row["meta"] = json.loads(row.get("meta") or "{}")
    return row


class VideosMixin:
    # ------------------------------------------------------------------ videos
    def add_video(
        self,
        path: str | Path,
        *,
        sha256: str,
        duration: float,
        fps: float,
        n_frames: int,
        width: int,
        height: int,
        codec: str = "h264",
        keyframe_interval: float | None = None,
        split: str | None = None,
        source: str = "ingest",
        meta: dict | None = None,
        copy: bool = False,
    ) -> str:
        """Register a video (content-hash dedup: the same bytes give the same id, stored once).

        Returns the video id (first 16 hex chars of sha256). With `copy=True` the file is copied
        into `media/` first; the row is written only after the copy succeeded.
        """
        vid = sha256[:16]
        existing = self.scalar("SELECT id FROM videos WHERE sha256 = ?", (sha256,))
        if existing:
            return existing
        src = Path(path).resolve()
        if copy:
            dest = self.media_dir / f"{vid}{src.suffix.lower() or '.mp4'}"
            if not dest.exists():
                tmp = dest.with_suffix(dest.suffix + ".part")
                shutil.copyfile(src, tmp)
                tmp.replace(dest)
            src = dest
        row = dict(
            id=vid, sha256=sha256, path=self.relativize(src), filename=Path(path).name,
            duration=float(duration), fps=float(fps), n_frames=int(n_frames), width=int(width),
            height=int(height), codec=codec, keyframe_interval=keyframe_interval, split=split,
            source=source, meta=dumps(meta or {}), added_at=now(),
        )
        cols = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        with self.transaction():
            self.conn.execute(f"INSERT INTO videos ({cols}) VALUES ({marks})", tuple(row.values()))
        return vid

    def get_video(self, video_id: str) -> dict:
        rows = self.query("SELECT * FROM videos WHERE id = ?", (video_id,))
        if not rows:
            raise KeyError(f"no video {video_id!r} in workspace {self.root}")
        return _decode_video(rows[0])

    def video_path(self, video_id: str) -> Path:
        return self.resolve(self.get_video(video_id)["path"])

    def list_videos(self, split: str | None = None, text: str | None = None, source: str | None = None) -> list[dict]:
        """Videos with per-video counts: clips, captioned clips, QA items and QA by status."""
        where, params = [], []
        if split:
            where.append("v.split = ?")
            params.append(split)
        if source:
            where.append("v.source = ?")
            params.append(source)
        if text:
            where.append(
                "(v.filename LIKE ? OR v.id LIKE ? OR v.id IN "
                "(SELECT c.video_id FROM clips c JOIN clips_fts f ON f.rowid = c.id WHERE clips_fts MATCH ?))"
            )
            params += [f"%{text}%", f"{text}%", self.db.quote_fts(text)]
        sql = f"""
            SELECT v.*,
              (SELECT count(*) FROM clips c WHERE c.video_id = v.id) AS n_clips,
              (SELECT count(*) FROM clips c WHERE c.video_id = v.id AND coalesce(c.caption,'') != '') AS n_captioned,
              (SELECT count(*) FROM qa q WHERE q.video_id = v.id) AS n_qa,
              (SELECT count(*) FROM qa q WHERE q.video_id = v.id AND q.status = 'approved') AS n_approved,
              (SELECT count(*) FROM qa q WHERE q.video_id = v.id AND q.status = 'pending') AS n_pending
            FROM videos v {'WHERE ' + ' AND '.join(where) if where else ''}
            ORDER BY v.added_at, v.id"""
        return [_decode_video(r) for r in self.query(sql, tuple(params))]

    def update_video(self, video_id: str, **fields: Any) -> None:
        if "meta" in fields and not isinstance(fields["meta"], str):
            fields["meta"] = dumps(fields["meta"])
        sets = ", ".join(f'"{k}" = ?' for k in fields)
        with self.transaction():
            self.conn.execute(f"UPDATE videos SET {sets} WHERE id = ?", (*fields.values(), video_id))

    def delete_video(self, video_id: str) -> None:
        with self.transaction():
            self.conn.execute("DELETE FROM qa WHERE video_id = ?", (video_id,))
            self.conn.execute("DELETE FROM videos WHERE id = ?", (video_id,))

    # ------------------------------------------------------------------ clips & captions
    def set_clips(self, video_id: str, segments: list[tuple[float, float]]) -> list[int]:
        """Set the clip boundaries of a video. Unchanged boundaries keep their id and caption."""
        with self.transaction():
            old = {r["idx"]: r for r in self.query("SELECT * FROM clips WHERE video_id = ?", (video_id,))}
            ids = []
            for idx, (start, end) in enumerate(segments):
                prev = old.pop(idx, None)
                if prev and abs(prev["start"] - start) < 1e-6 and abs(prev["end"] - end) < 1e-6:
                    ids.append(prev["id"])
                    continue
                if prev:
                    self.conn.execute("DELETE FROM clips WHERE id = ?", (prev["id"],))
                cur = self.conn.execute(
                    'INSERT INTO clips (video_id, idx, start, "end") VALUES (?, ?, ?, ?)',
                    (video_id, idx, float(start), float(end)),
                )
                ids.append(cur.lastrowid)
            for stale in old.values():
                self.conn.execute("DELETE FROM clips WHERE id = ?", (stale["id"],))
        return ids

    def clips(self, video_id: str) -> list[dict]:
        return self.query("SELECT * FROM clips WHERE video_id = ? ORDER BY idx", (video_id,))

    def get_clip(self, clip_id: int) -> dict:
        rows = self.query("SELECT * FROM clips WHERE id = ?", (clip_id,))
        if not rows:
            raise KeyError(f"no clip {clip_id}")
        return rows[0]

    def set_caption(self, clip_id: int, caption: str, *, captioner: str, prompt: str | None = None,
                    who: str = "system") -> None:
        """Set a clip's caption; the previous caption (if any) goes to `caption_history`."""
        with self.transaction():
            cur = self.conn.execute("SELECT caption, captioner, prompt FROM clips WHERE id = ?", (clip_id,)).fetchone()
            if cur is None:
                raise KeyError(f"no clip {clip_id}")
            if cur["caption"]:
                self.conn.execute(
                    "INSERT INTO caption_history (clip_id, caption, captioner, prompt, replaced_at, replaced_by)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (clip_id, cur["caption"], cur["captioner"], cur["prompt"], now(), who),
                )
            self.conn.execute(
                "UPDATE clips SET caption = ?, captioner = ?, prompt = ?, updated_at = ?, updated_by = ? WHERE id = ?",
                (caption, captioner, prompt, now(), who, clip_id),
            )

    def caption_history(self, clip_id: int) -> list[dict]:
        return self.query("SELECT * FROM caption_history WHERE clip_id = ? ORDER BY id", (clip_id,))

    def search_captions(self, text: str, limit: int = 50) -> list[dict]:
        return self.query(
            "SELECT c.*, snippet(clips_fts, 0, '[', ']', '…', 12) AS snippet FROM clips_fts f "
            "JOIN clips c ON c.id = f.rowid WHERE clips_fts MATCH ? ORDER BY rank LIMIT ?",
            (self.db.quote_fts(text), limit),
        )
