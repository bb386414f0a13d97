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
action bar (beside the buttons) and writes nothing; the form keeps the reviewer's edits. Every other refusal of
the review rules (`lvr.store.ReviewError`, raised by the store or by `review.py`) is shown as `gr.Error`, same text.
Without --auth the reviewer types a name once (kept in the browser's localStorage) and it signs every edit.
"""
from __future__ import annotations

import functools
from types import SimpleNamespace

import gradio as gr
from gradio.context import Context

from lvr.store import ITEM_CATEGORIES, LETTERS, QA_STATUSES, ReviewError, Workspace
from lvr.store.qa import OPTION_MAX_CHARS, QUESTION_MAX_CHARS

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


def refusals_shown(handler):
    """`handler` as a Gradio event handler: a refusal of the review rules (ReviewError) becomes gr.Error, same
    text. (functools.wraps keeps the signature Gradio reads: the API's parameters, gr.Request, gr.SelectData.)"""
    @functools.wraps(handler)
    def shown(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except ReviewError as e:
            raise gr.Error(str(e)) from e
    return shown


def _player(view: dict):
    if not view["video"]:
        return gr.Video(value=None, label="no video file for this item" if view["id"] else "no item")
    return gr.Video(value=view["video"], subtitles=view["subtitles"], playback_position=view["start"],
                    label=f"clip from {r.mmss(view['start'])} (captions as subtitles)")


def _who_row() -> SimpleNamespace:
    """The annotator's name, the item id (Enter loads it) and its version; the note asking for a name."""
    with gr.Row():
        annotator = gr.Textbox("", label="annotator (your name)", max_lines=1, elem_id="review-annotator",
                               placeholder="asked once, remembered in this browser", scale=2,
                               min_width=150)
        qa_id = gr.Number(label="item id (Enter)", precision=0, min_width=80, scale=1, elem_id="review-id")
        version = gr.Number(label="version", precision=0, interactive=False, min_width=60, scale=1)
    name_note = gr.Markdown(NAME_NOTE, elem_id="review-annotator-note")
    return SimpleNamespace(annotator=annotator, qa_id=qa_id, version=version, name_note=name_note)


def _filter_panel(choices: dict) -> SimpleNamespace:
    """The queue's filters (status, category, duplicates, video, source, text), Apply and the page number."""
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
    return SimpleNamespace(f_status=f_status, f_category=f_category, f_duplicate=f_duplicate, f_video=f_video,
                           f_source=f_source, f_text=f_text, apply=apply, page=page)


def _bulk_panel() -> SimpleNamespace:
    """The closed accordion that sets the status of every item the filters match."""
    with gr.Accordion("Bulk: every item matching the filters", open=False):
        gr.Markdown("Changes every item the filters above match (not only this page); one revision per "
                    "item, signed with your name. Rejecting uses the text of the reject reason box.")
        bulk_to = gr.Radio(["approved", "rejected", "pending"], value="approved", label="set status to")
        bulk_ok = gr.Checkbox(False, label="I mean every matching item")
        bulk_go = gr.Button("Apply to all matching", variant="stop", size="sm")
        bulk_msg = gr.Markdown()
    return SimpleNamespace(bulk_to=bulk_to, bulk_ok=bulk_ok, bulk_go=bulk_go, bulk_msg=bulk_msg)


def _queue_column(choices: dict) -> SimpleNamespace:
    """The left column: who is reviewing, the filters, the queue and the bulk accordion."""
    with gr.Column(scale=2, min_width=380):
        who = _who_row()
        filters = _filter_panel(choices)
        summary = gr.Markdown(elem_id="review-summary")
        queue = gr.Dataframe(headers=r.QUEUE_COLUMNS, interactive=False, max_height=360, wrap=False,
                             column_widths=["52px", "78px", "82px", "auto", "82px"],
                             label="queue (click an item)", elem_id="review-queue")
        bulk = _bulk_panel()
    return SimpleNamespace(**vars(who), **vars(filters), summary=summary, queue=queue, **vars(bulk))


def _item_form() -> SimpleNamespace:
    """The editable item: category, answer, question, the four options (2×2) and the reasoning."""
    with gr.Row():
        category = gr.Dropdown(list(ITEM_CATEGORIES), label="category", scale=1, min_width=120)
        answer = gr.Radio(list(LETTERS), label="correct answer (Alt+1…4)", elem_id="review-answer",
                          scale=2)
    question = gr.Textbox(label="question (Alt+E)", lines=2, max_lines=4, elem_id="review-question",
                          max_length=QUESTION_MAX_CHARS)          # the store's rule, also checked on save
    opts = []
    for pair in (LETTERS[:2], LETTERS[2:]):          # a 2×2 grid keeps the form in view
        with gr.Row():
            opts += [gr.Textbox(label=f"option {x}", max_lines=2, elem_id=f"review-option-{x}",
                                min_width=160, max_length=OPTION_MAX_CHARS) for x in pair]
    reasoning = gr.Textbox(label="reasoning (as if watching the video)", lines=3, max_lines=6,
                           elem_id="review-reasoning")
    return SimpleNamespace(category=category, answer=answer, question=question, opts=opts, reasoning=reasoning)


def _item_column() -> SimpleNamespace:
    """The right column: the item's header, the player and captions beside the form, shortcuts, history."""
    with gr.Column(scale=5):
        header = gr.Markdown(elem_id="review-header")
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                player = gr.Video(label="clip", interactive=False, elem_id="review-player", height=240)
                context = gr.Markdown(elem_id="review-context")
            with gr.Column(scale=3):
                item = _item_form()
        with gr.Accordion("Keyboard shortcuts", open=False):
            gr.Markdown(SHORTCUTS_MD)
        with gr.Accordion("Revision history", open=True):
            history = gr.HTML(elem_id="review-history")
    return SimpleNamespace(header=header, player=player, context=context, **vars(item), history=history)


def _progress_panel() -> SimpleNamespace:
    """Progress, actions per annotator and inter-annotator agreement, with a refresh button."""
    with gr.Accordion("Progress and agreement", open=True):
        with gr.Row():
            progress_md = gr.Markdown(elem_id="review-progress")
            progress_b = gr.Button("↻ Refresh", size="sm", scale=0, min_width=90)
        with gr.Row():
            annotators = gr.Dataframe(headers=r.ANNOTATOR_COLUMNS, interactive=False, label="actions per annotator")
            agreement = gr.Dataframe(headers=r.AGREEMENT_COLUMNS, interactive=False,
                                     label="inter-annotator agreement (last verdicts; needs two named reviewers)")
    return SimpleNamespace(progress_md=progress_md, progress_b=progress_b, annotators=annotators,
                           agreement=agreement)


def _action_bar() -> SimpleNamespace:
    """The action bar fixed to the window's bottom (banner, reject reason, verdict and navigation buttons)."""
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
    return SimpleNamespace(banner=banner, reason=reason, draft_b=draft_b, reject_b=reject_b, approve_b=approve_b,
                           prev_b=prev_b, next_b=next_b, reload_b=reload_b)


def _layout(ws: Workspace) -> SimpleNamespace:
    """Every component of the tab, created in page order, with the input/output lists the events share."""
    choices = r.filter_choices(ws)
    with gr.Row():
        left = _queue_column(choices)
        right = _item_column()
    ui = SimpleNamespace(**vars(left), **vars(right), **vars(_progress_panel()), **vars(_action_bar()))
    ui.filters = [ui.f_status, ui.f_category, ui.f_video, ui.f_source, ui.f_duplicate, ui.f_text]
    ui.form = [ui.qa_id, ui.version, ui.header, ui.player, ui.context, ui.category, ui.question, *ui.opts,
               ui.answer, ui.reasoning, ui.reason, ui.history, ui.banner]
    ui.fields = [ui.qa_id, ui.version, ui.category, ui.question, *ui.opts, ui.answer, ui.reasoning]
    ui.queue_out = [ui.queue, ui.summary]
    ui.progress_out = [ui.progress_md, ui.annotators, ui.agreement]
    return ui


def _queue_filter(status, cat, vid, src, dup, text) -> r.QueueFilter:
    return r.QueueFilter(status=status, category=cat, video_id=vid, source=src, duplicate=dup, text=text)


def who_is_reviewing(stored: str, request: gr.Request = None):
    """The name box on page load: the signed-in user (fixed), else the name this browser remembers."""
    user = signed_in(request)
    if user:
        return gr.Textbox(value=user, interactive=False, label="annotator (signed in)"), gr.Markdown(visible=False)
    name = clean_name(stored)
    return gr.Textbox(value=name), gr.Markdown(visible=not name)


class ReviewHandlers:
    """The tab's event handlers on one workspace: each fills the form (`form_size` outputs) or a panel from
    `review.py`'s views; the review rules themselves live there."""

    def __init__(self, ws: Workspace, form_size: int):
        self.ws = ws
        self.form_size = form_size

    @staticmethod
    def show(view: dict, banner_text: str = "", player_too: bool = True):
        return (view["id"], view["version"], view["header"], _player(view) if player_too else gr.skip(),
                view["context"], view["category"],
                view["question"], *view["options"], view["answer"], view["reasoning"], view["reject_reason"],
                view["history"], banner_text)

    def keep(self, banner_text: str):
        return (*[gr.skip()] * (self.form_size - 1), banner_text)

    @refusals_shown
    def review_load(self, item_id):
        return self.show(r.item_view(self.ws, item_id))

    def step(self, current, status, cat, vid, src, dup, text, direction: int):
        nxt = r.next_id(self.ws, _queue_filter(status, cat, vid, src, dup, text), current, direction)
        if nxt is None:
            if current is not None:
                return self.keep("_no more items in this direction of the queue_")
            empty = "_no item matches these filters: change them (status, category, video, source, search)_"
            return self.show(r.blank_view(empty), empty)      # the form empties: no stale item left on screen
        return self.show(r.item_view(self.ws, nxt))

    @refusals_shown
    def review_next(self, current_id, status, category, video, source, duplicate, text):
        return self.step(current_id, status, category, video, source, duplicate, text, 1)

    @refusals_shown
    def review_prev(self, current_id, status, category, video, source, duplicate, text):
        return self.step(current_id, status, category, video, source, duplicate, text, -1)

    def verdict(self, new_status, item_id, loaded_version, cat, q, a, b, c, d, ans, why, reject_reason,
                queue_filters, request, advance: bool, annotator: str = ""):
        edits = r.edits_from_form(cat, q, a, b, c, d, ans, why)
        try:
            out = r.apply_verdict(self.ws, item_id, loaded_version, edits, who=username(request, annotator),
                                  status=new_status, reason=reject_reason)
        except ValueError as e:   # ReviewError or a field the store refuses: shown in the action bar, beside
            return self.keep(f"⚠️ **Not saved:** {e}")     # the buttons; the form keeps every edit
        if not out.ok:
            return self.keep(f"⚠️ **Not saved.** {out.message}. Press **Reload item** (Alt+L) to see the new "
                             "version; your edits are still in the form until you reload.")
        nxt = r.next_id(self.ws, _queue_filter(*queue_filters), item_id, 1) if advance else None
        if advance and nxt is None:
            return self.show(r.item_view(self.ws, item_id), f"✓ {out.message} · end of the queue")
        return self.show(r.item_view(self.ws, nxt if advance else item_id), f"✓ {out.message}",
                         player_too=advance)

    @refusals_shown
    def review_approve(self, item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                       answer, reasoning, status, category_filter, video, source, duplicate, text,
                       annotator: str = "", request: gr.Request = None):
        return self.verdict("approved", item_id, loaded_version, category, question, option_a, option_b,
                            option_c, option_d, answer, reasoning, None,
                            (status, category_filter, video, source, duplicate, text), request, True, annotator)

    @refusals_shown
    def review_reject(self, item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                      answer, reasoning, reject_reason, status, category_filter, video, source, duplicate, text,
                      annotator: str = "", request: gr.Request = None):
        return self.verdict("rejected", item_id, loaded_version, category, question, option_a, option_b,
                            option_c, option_d, answer, reasoning, reject_reason,
                            (status, category_filter, video, source, duplicate, text), request, True, annotator)

    @refusals_shown
    def review_save(self, item_id, loaded_version, category, question, option_a, option_b, option_c, option_d,
                    answer, reasoning, annotator: str = "", request: gr.Request = None):
        return self.verdict("draft", item_id, loaded_version, category, question, option_a, option_b, option_c,
                            option_d, answer, reasoning, None, (), request, False, annotator)

    @refusals_shown
    def review_queue(self, status, category, video, source, duplicate, text, page_no):
        return r.queue_frame(self.ws, _queue_filter(status, category, video, source, duplicate, text), page_no)

    @refusals_shown
    def pick(self, evt: gr.SelectData):
        row = evt.row_value or []
        return self.show(r.item_view(self.ws, row[0])) if row else self.keep("")

    @refusals_shown
    def bulk(self, new_status, reject_reason, confirm, status, category, video, source, duplicate, text,
             annotator: str = "", request: gr.Request = None):
        return r.bulk_status(self.ws, _queue_filter(status, category, video, source, duplicate, text), new_status,
                             who=username(request, annotator), reason=reject_reason, confirm=confirm), False

    def review_progress(self):
        return r.progress_view(self.ws)

    @refusals_shown
    def review_history(self, item_id: int) -> str:
        """The item's revisions (who, when, what changed) as HTML."""
        return r.item_view(self.ws, item_id)["history"]

    @refusals_shown
    def opened(self, current, status, category, video, source, duplicate, text, page_no):
        ch = r.filter_choices(self.ws)
        q = self.review_queue(status, category, video, source, duplicate, text, page_no)
        first = (self.step(None, status, category, video, source, duplicate, text, 1) if not current
                 else self.keep(gr.skip()))
        return (gr.Dropdown(choices=ch["videos"]), gr.Dropdown(choices=ch["sources"]), *q, *self.review_progress(),
                *first)

    def seek(self, item_id):
        """Seek again once the player has the new file (a new source resets its position to 0)."""
        if not item_id:
            return gr.skip()
        try:
            return gr.Video(playback_position=float(self.ws.get_qa(int(item_id))["start"] or 0.0))
        except KeyError:
            return gr.skip()


def _then_seek(ui: SimpleNamespace, h: ReviewHandlers, dep):
    return dep.then(h.seek, ui.qa_id, ui.player, api_name=False, show_progress="hidden")


def _listing(ui: SimpleNamespace, h: ReviewHandlers) -> dict:
    """The queue refresh that follows filters, page changes, verdicts and bulk changes."""
    return dict(fn=h.review_queue, inputs=[*ui.filters, ui.page], outputs=ui.queue_out, api_name=False)


def _wire_navigation(ui: SimpleNamespace, h: ReviewHandlers) -> None:
    """Filters, page, queue clicks, item id, reload, next and prev: each loads the form (then seeks)."""
    listing = _listing(ui, h)
    _then_seek(ui, h, ui.apply.click(h.review_queue, [*ui.filters, ui.page], ui.queue_out, api_name="review_queue")
               .then(h.review_next, [gr.State(None), *ui.filters], ui.form, api_name=False))
    ui.f_text.submit(**listing)
    ui.page.submit(**listing)
    _then_seek(ui, h, ui.queue.select(h.pick, None, ui.form, api_name=False))
    _then_seek(ui, h, ui.qa_id.submit(h.review_load, ui.qa_id, ui.form, api_name="review_load"))
    _then_seek(ui, h, ui.reload_b.click(h.review_load, ui.qa_id, ui.form, api_name=False))
    _then_seek(ui, h, ui.next_b.click(h.review_next, [ui.qa_id, *ui.filters], ui.form, api_name="review_next"))
    _then_seek(ui, h, ui.prev_b.click(h.review_prev, [ui.qa_id, *ui.filters], ui.form, api_name="review_prev"))


def _wire_edits(ui: SimpleNamespace, h: ReviewHandlers) -> None:
    """Verdicts, drafts and bulk changes (each followed by the queue and progress), progress and history."""
    listing = _listing(ui, h)
    for btn, fn, inputs, name in (
        (ui.approve_b, h.review_approve, [*ui.fields, *ui.filters, ui.annotator], "review_approve"),
        (ui.reject_b, h.review_reject, [*ui.fields, ui.reason, *ui.filters, ui.annotator], "review_reject"),
        (ui.draft_b, h.review_save, [*ui.fields, ui.annotator], "review_save"),
    ):
        dep = btn.click(fn, inputs, ui.form, api_name=name)
        if btn is not ui.draft_b:
            _then_seek(ui, h, dep)
        dep.then(**listing).then(h.review_progress, None, ui.progress_out, api_name=False)
    ui.bulk_go.click(h.bulk, [ui.bulk_to, ui.reason, ui.bulk_ok, *ui.filters, ui.annotator], [ui.bulk_msg, ui.bulk_ok],
                     api_name="bulk_status") \
        .then(**listing).then(h.review_progress, None, ui.progress_out, api_name=False)
    ui.progress_b.click(h.review_progress, None, ui.progress_out, api_name="review_progress")
    gr.api(h.review_history, api_name="review_history")


def _wire_annotator(ui: SimpleNamespace) -> None:
    """The name box: remembered in localStorage, its note hidden once named, filled on page load."""
    ui.annotator.change(None, ui.annotator, None, js=SAVE_NAME_JS, api_name=False)
    ui.annotator.input(lambda v: gr.Markdown(visible=not clean_name(v)), ui.annotator, ui.name_note, api_name=False,
                       show_progress="hidden")
    if Context.root_block is not None:
        Context.root_block.load(who_is_reviewing, ui.annotator, [ui.annotator, ui.name_note], js=LOAD_NAME_JS,
                                api_name=False, show_progress="hidden")


def build_review_tab(ws: Workspace) -> None:
    """Create the tab's components inside the caller's `gr.Tab` context."""
    ui = _layout(ws)
    h = ReviewHandlers(ws, form_size=len(ui.form))
    _wire_navigation(ui, h)
    _wire_edits(ui, h)
    _wire_annotator(ui)
    if isinstance(Context.block, gr.Tab):        # opening the tab refreshes the choices, queue and progress
        _then_seek(ui, h, Context.block.select(
            h.opened, [ui.qa_id, *ui.filters, ui.page],
            [ui.f_video, ui.f_source, *ui.queue_out, *ui.progress_out, *ui.form], api_name=False))
