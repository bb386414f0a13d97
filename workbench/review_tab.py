"""The Review tab: a filtered queue, the item's clip playing beside an editable form, verdicts, history, progress.

    with gr.Tab("Review"):
        build_review_tab(ws)

Handlers live in `workbench/review.py`; this module lays out and binds. Filters are the last
six inputs of the queue/navigation/verdict endpoints: status (list), category, video, source,
duplicate ("any" | "hide duplicates" | "duplicates only"), text. API (gradio_client):

    client.predict(["pending"], "any", "any", "any", "any", "", 1, api_name="/review_queue")
    client.predict(12, api_name="/review_load")           # → id, version, header, video, …, history, banner
    client.predict(12, 3, "goal", "Q?", "a", "b", "c", "d", "B", "why", ["pending"], "any", "any", "any",
                   "any", "", api_name="/review_approve")  # saves + approves, then loads the next item
    (the verdict and bulk endpoints end with an optional annotator name, used without --auth)
    …/review_reject (reason after reasoning), /review_save (draft), /review_next, /review_prev,
    /bulk_status, /review_progress, /review_history
A stale save, a missing reject reason or answer, or a field the store refuses comes back as a banner in the
action bar (beside the buttons) and writes nothing; the form keeps the reviewer's edits.
Without --auth the reviewer types a name once (kept in the browser's localStorage) and it signs every edit.
"""
from __future__ import annotations

import gradio as gr
from gradio.context import Context

from lvr.store import ITEM_CATEGORIES, LETTERS, QA_STATUSES, Workspace

from . import review as r
from .identity import STORAGE_KEY, clean_name, signed_in, username
from .shortcuts import SHORTCUTS_MD

# The item, its options, answer and the verdict controls stay in view at 1440×900: the form sits beside
# the player, the captions in range scroll inside a short box, and the verdict buttons, the reject reason
# and the outcome of the last action (errors included) live in an action bar fixed to the window's bottom.
REVIEW_CSS = """
#review-actions {position: fixed; left: 0; right: 0; bottom: 0; z-index: 60; margin: 0;
  padding: 6px 16px 8px; gap: 4px; background: var(--background-fill-primary);
  border-top: 1px solid var(--border-color-primary); box-shadow: 0 -4px 12px rgba(0, 0, 0, .08)}
#review-actions button {min-width: 0; white-space: nowrap}
#review-banner {min-height: 1.4em}
#review-banner p {margin: 0}
#review-tab-spacer {height: 140px}
#review-context {max-height: 220px; overflow-y: auto !important; font-size: 0.9em}
#review-header {font-size: 0.9em}
#review-annotator-note p {margin: 0; font-size: 0.9em}
"""
# On page load: the annotator name this browser remembers (localStorage) fills the name box.
LOAD_NAME_JS = "(v) => { try { return localStorage.getItem(%r) || v || ''; } catch (e) { return v || ''; } }" \
    % STORAGE_KEY
SAVE_NAME_JS = "(v) => { try { localStorage.setItem(%r, (v || '').trim()); } catch (e) {} return v; }" % STORAGE_KEY
NAME_NOTE = ("**Who is reviewing?** Type your name: it signs your verdicts (so the agreement panel can tell "
             "reviewers apart) and is remembered in this browser.")


def _player(view: dict):
    if not view["video"]:
        return gr.Video(value=None, label="no video file for this item" if view["id"] else "no item")
    return gr.Video(value=view["video"], subtitles=view["subtitles"], playback_position=view["start"],
                    label=f"clip from {r.mmss(view['start'])} (captions as subtitles)")


def build_review_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    choices = r.filter_choices(ws)
    with gr.Row():
        with gr.Column(scale=2, min_width=380):
            with gr.Row():
                annotator = gr.Textbox("", label="annotator (your name)", max_lines=1, elem_id="review-annotator",
                                       placeholder="asked once, remembered in this browser", scale=2,
                                       min_width=150)
                qa_id = gr.Number(label="item id (Enter)", precision=0, min_width=80, scale=1, elem_id="review-id")
                version = gr.Number(label="version", precision=0, interactive=False, min_width=60, scale=1)
            name_note = gr.Markdown(NAME_NOTE, elem_id="review-annotator-note")
            f_status = gr.Dropdown(list(QA_STATUSES), value=list(r.DEFAULT_QUEUE), multiselect=True,
                                   label="status")
            with gr.Row():
                f_category = gr.Dropdown([r.ANY, *ITEM_CATEGORIES], value=r.ANY, label="category", min_width=100)
                f_duplicate = gr.Dropdown(r.DUPLICATE_CHOICES, value="any", label="duplicates", min_width=100)
            with gr.Row():
                f_video = gr.Dropdown(choices["videos"], value=r.ANY, label="video", min_width=100)
                f_source = gr.Dropdown(choices["sources"], value=r.ANY, label="source", min_width=100)
            f_text = gr.Textbox(label="search question / options / reasoning", max_lines=1)
            with gr.Row():
                apply = gr.Button("Apply filters", size="sm")
                page = gr.Number(1, label="page", precision=0, min_width=60)
            summary = gr.Markdown(elem_id="review-summary")
            queue = gr.Dataframe(headers=r.QUEUE_COLUMNS, interactive=False, max_height=360, wrap=False,
                                 column_widths=["52px", "78px", "82px", "auto", "82px"],
                                 label="queue (click an item)", elem_id="review-queue")
            with gr.Accordion("Bulk: every item matching the filters", open=False):
                gr.Markdown("Changes every item the filters above match (not only this page); one revision per "
                            "item, signed with your name. Rejecting uses the text of the reject reason box.")
                bulk_to = gr.Radio(["approved", "rejected", "pending"], value="approved", label="set status to")
                bulk_ok = gr.Checkbox(False, label="I mean every matching item")
                bulk_go = gr.Button("Apply to all matching", variant="stop", size="sm")
                bulk_msg = gr.Markdown()
        with gr.Column(scale=5):
            header = gr.Markdown(elem_id="review-header")
            with gr.Row():
                with gr.Column(scale=2, min_width=300):
                    player = gr.Video(label="clip", interactive=False, elem_id="review-player", height=240)
                    context = gr.Markdown(elem_id="review-context")
                with gr.Column(scale=3):
                    with gr.Row():
                        category = gr.Dropdown(list(ITEM_CATEGORIES), label="category", scale=1, min_width=120)
                        answer = gr.Radio(list(LETTERS), label="correct answer (Alt+1…4)", elem_id="review-answer",
                                          scale=2)
                    question = gr.Textbox(label="question (Alt+E)", lines=2, max_lines=4, elem_id="review-question")
                    opts = []
                    for pair in (LETTERS[:2], LETTERS[2:]):          # a 2×2 grid keeps the form in view
                        with gr.Row():
                            opts += [gr.Textbox(label=f"option {x}", max_lines=2, elem_id=f"review-option-{x}",
                                                min_width=160) for x in pair]
                    reasoning = gr.Textbox(label="reasoning (as if watching the video)", lines=3, max_lines=6,
                                           elem_id="review-reasoning")
            with gr.Accordion("Keyboard shortcuts", open=False):
                gr.Markdown(SHORTCUTS_MD)
            with gr.Accordion("Revision history", open=True):
                history = gr.HTML(elem_id="review-history")
    with gr.Accordion("Progress and agreement", open=True):
        with gr.Row():
            progress_md = gr.Markdown(elem_id="review-progress")
            progress_b = gr.Button("↻ Refresh", size="sm", scale=0, min_width=90)
        with gr.Row():
            annotators = gr.Dataframe(headers=r.ANNOTATOR_COLUMNS, interactive=False, label="actions per annotator")
            agreement = gr.Dataframe(headers=r.AGREEMENT_COLUMNS, interactive=False,
                                     label="inter-annotator agreement (last verdicts; needs two named reviewers)")
    gr.HTML("", elem_id="review-tab-spacer", padding=False)      # room under the fixed action bar
    with gr.Column(elem_id="review-actions"):
        banner = gr.Markdown(elem_id="review-banner")
        with gr.Row(equal_height=True):
            reason = gr.Textbox(label="reject reason (required to reject)", max_lines=1, elem_id="review-reason",
                                scale=4, min_width=200, container=False,
                                placeholder="reject reason (required to reject)")
            draft_b = gr.Button("Save draft (Alt+S)", elem_id="review-draft", scale=1, min_width=120)
            reject_b = gr.Button("Reject (Alt+R)", variant="stop", elem_id="review-reject", scale=1, min_width=110)
            approve_b = gr.Button("Approve (Alt+A)", variant="primary", elem_id="review-approve", scale=1,
                                  min_width=120)
            prev_b = gr.Button("◀ Prev (Alt+P)", elem_id="review-prev", scale=1, min_width=100)
            next_b = gr.Button("Skip ▶ (Alt+N)", elem_id="review-next", scale=1, min_width=100)
            reload_b = gr.Button("↻ Reload (Alt+L)", elem_id="review-reload", scale=1, min_width=100)

    filters = [f_status, f_category, f_video, f_source, f_duplicate, f_text]
    form = [qa_id, version, header, player, context, category, question, *opts, answer, reasoning, reason,
            history, banner]
    fields = [qa_id, version, category, question, *opts, answer, reasoning]

    def flt(status, cat, vid, src, dup, text) -> r.QueueFilter:
        return r.QueueFilter(status=status, category=cat, video_id=vid, source=src, duplicate=dup, text=text)

    def show(view: dict, banner_text: str = "", player_too: bool = True):
        return (view["id"], view["version"], view["header"], _player(view) if player_too else gr.skip(),
                view["context"], view["category"],
                view["question"], *view["options"], view["answer"], view["reasoning"], view["reject_reason"],
                view["history"], banner_text)

    def keep(banner_text: str):
        return (*[gr.skip()] * (len(form) - 1), banner_text)

    def review_load(item_id):
        return show(r.item_view(ws, item_id))

    def step(current, status, cat, vid, src, dup, text, direction: int):
        nxt = r.next_id(ws, flt(status, cat, vid, src, dup, text), current, direction)
        if nxt is None:
            if current is not None:
                return keep("_no more items in this direction of the queue_")
            empty = "_no item matches these filters: change them (status, category, video, source, search)_"
            return show(r.blank_view(empty), empty)      # the form empties: no stale item left on screen
        return show(r.item_view(ws, nxt))

    def review_next(current_id, status, category, video, source, duplicate, text):
        return step(current_id, status, category, video, source, duplicate, text, 1)

    def review_prev(current_id, status, category, video, source, duplicate, text):
        return step(current_id, status, category, video, source, duplicate, text, -1)

    def verdict(new_status, item_id, loaded_version, cat, q, a, b, c, d, ans, why, reject_reason, queue_filters,
                request, advance: bool, annotator: str = ""):
        edits = r.edits_from_form(cat, q, a, b, c, d, ans, why)
        try:
            out = r.apply_verdict(ws, item_id, loaded_version, edits, who=username(request, annotator),
                                  status=new_status, reason=reject_reason)
        except gr.Error as e:     # shown in the action bar, beside the buttons; the form keeps every edit
            return keep(f"⚠️ **Not saved:** {e.message}")
        if not out.ok:
            return keep(f"⚠️ **Not saved.** {out.message}. Press **Reload item** (Alt+L) to see the new "
                        "version; your edits are still in the form until you reload.")
        nxt = r.next_id(ws, flt(*queue_filters), item_id, 1) if advance else None
        if advance and nxt is None:
            return show(r.item_view(ws, item_id), f"✓ {out.message} · end of the queue")
        return show(r.item_view(ws, nxt if advance else item_id), f"✓ {out.message}", player_too=advance)

    def review_approve(item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                       answer, reasoning, status, category_filter, video, source, duplicate, text,
                       annotator: str = "", request: gr.Request = None):
        return verdict("approved", item_id, loaded_version, category, question, option_a, option_b, option_c,
                       option_d, answer, reasoning, None,
                       (status, category_filter, video, source, duplicate, text), request, True, annotator)

    def review_reject(item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                      answer, reasoning, reject_reason, status, category_filter, video, source, duplicate, text,
                      annotator: str = "", request: gr.Request = None):
        return verdict("rejected", item_id, loaded_version, category, question, option_a, option_b, option_c,
                       option_d, answer, reasoning, reject_reason,
                       (status, category_filter, video, source, duplicate, text), request, True, annotator)

    def review_save(item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                    answer, reasoning, annotator: str = "", request: gr.Request = None):
        return verdict("draft", item_id, loaded_version, category, question, option_a, option_b, option_c,
                       option_d, answer, reasoning, None, (), request, False, annotator)

    def review_queue(status, category, video, source, duplicate, text, page_no):
        return r.queue_frame(ws, flt(status, category, video, source, duplicate, text), page_no)

    def pick(evt: gr.SelectData):
        row = evt.row_value or []
        return show(r.item_view(ws, row[0])) if row else keep("")

    def bulk(new_status, reject_reason, confirm, status, category, video, source, duplicate, text,
             annotator: str = "", request: gr.Request = None):
        return r.bulk_status(ws, flt(status, category, video, source, duplicate, text), new_status,
                             who=username(request, annotator), reason=reject_reason, confirm=confirm), False

    def who_is_reviewing(stored: str, request: gr.Request = None):
        """The name box on page load: the signed-in user (fixed), else the name this browser remembers."""
        user = signed_in(request)
        if user:
            return gr.Textbox(value=user, interactive=False, label="annotator (signed in)"), gr.Markdown(visible=False)
        name = clean_name(stored)
        return gr.Textbox(value=name), gr.Markdown(visible=not name)

    def review_progress():
        return r.progress_view(ws)

    def review_history(item_id: int) -> str:
        """The item's revisions (who, when, what changed) as HTML."""
        return r.item_view(ws, item_id)["history"]

    def opened(current, status, category, video, source, duplicate, text, page_no):
        ch = r.filter_choices(ws)
        q = review_queue(status, category, video, source, duplicate, text, page_no)
        first = step(None, status, category, video, source, duplicate, text, 1) if not current else keep(gr.skip())
        return (gr.Dropdown(choices=ch["videos"]), gr.Dropdown(choices=ch["sources"]), *q, *review_progress(),
                *first)

    def seek(item_id):
        """Seek again once the player has the new file (a new source resets its position to 0)."""
        if not item_id:
            return gr.skip()
        try:
            return gr.Video(playback_position=float(ws.get_qa(int(item_id))["start"] or 0.0))
        except KeyError:
            return gr.skip()

    def then_seek(dep):
        return dep.then(seek, qa_id, player, api_name=False, show_progress="hidden")

    queue_out = [queue, summary]
    progress_out = [progress_md, annotators, agreement]
    listing = dict(fn=review_queue, inputs=[*filters, page], outputs=queue_out, api_name=False)

    then_seek(apply.click(review_queue, [*filters, page], queue_out, api_name="review_queue")
              .then(review_next, [gr.State(None), *filters], form, api_name=False))
    f_text.submit(**listing)
    page.submit(**listing)
    then_seek(queue.select(pick, None, form, api_name=False))
    then_seek(qa_id.submit(review_load, qa_id, form, api_name="review_load"))
    then_seek(reload_b.click(review_load, qa_id, form, api_name=False))
    then_seek(next_b.click(review_next, [qa_id, *filters], form, api_name="review_next"))
    then_seek(prev_b.click(review_prev, [qa_id, *filters], form, api_name="review_prev"))
    for btn, fn, inputs, name in (
        (approve_b, review_approve, [*fields, *filters, annotator], "review_approve"),
        (reject_b, review_reject, [*fields, reason, *filters, annotator], "review_reject"),
        (draft_b, review_save, [*fields, annotator], "review_save"),
    ):
        dep = btn.click(fn, inputs, form, api_name=name)
        if btn is not draft_b:
            then_seek(dep)
        dep.then(**listing).then(review_progress, None, progress_out, api_name=False)
    bulk_go.click(bulk, [bulk_to, reason, bulk_ok, *filters, annotator], [bulk_msg, bulk_ok],
                  api_name="bulk_status") \
        .then(**listing).then(review_progress, None, progress_out, api_name=False)
    progress_b.click(review_progress, None, progress_out, api_name="review_progress")
    gr.api(review_history, api_name="review_history")
    annotator.change(None, annotator, None, js=SAVE_NAME_JS, api_name=False)
    annotator.input(lambda v: gr.Markdown(visible=not clean_name(v)), annotator, name_note, api_name=False,
                    show_progress="hidden")
    if Context.root_block is not None:
        Context.root_block.load(who_is_reviewing, annotator, [annotator, name_note], js=LOAD_NAME_JS,
                                api_name=False, show_progress="hidden")
    if isinstance(Context.block, gr.Tab):
        then_seek(Context.block.select(opened, [qa_id, *filters, page],
                                       [f_video, f_source, *queue_out, *progress_out, *form], api_name=False))
