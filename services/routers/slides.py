"""Slides in the Deep Zoom URL layout, so stock OpenSeadragon opens ``/slides/{id}.dzi``.

Every route, every tile included, checks the session and that the user may see the slide's
case: a session ended or a case reassigned shows on the very next request (a tile does both in
one query, :mod:`services.slide_gate`). Whichever route of a slide comes first in a sign-in
session (descriptor, tile, metadata, thumbnail) is "opening the slide" and leaves one audit
record, a refusal too; tiles are not audited one by one. The label and macro images carry
patient identifiers: for the clinical roles who may see the case (the pathologist checks on the
macro that all the tissue was scanned), never a privacy officer, and each view is audited. Routes
are plain ``def``: FastAPI runs them in worker threads, so slide reads never block the event
loop.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam

from services.access import SlideAccess, open_slide
from services.deps import (
    CurrentUser,
    PrefetchDep,
    SessionDep,
    StateDep,
    credential_from_request,
    get_state,
    is_prefetch,
)
from services.errors import NotAuthenticatedError
from services.schemas.auth import ErrorBody
from services.schemas.slides import DeepZoomInfo, SlideLevel, SlidePublic
from services.state import AppState
from services.storage import resolve_slide_file
from services.tiles import TileResponse, parse_tile_address
from worklist.models import Slide
from worklist.operations.viewing import record_view

router = APIRouter(
    tags=["slides"],
    responses={
        401: {"model": ErrorBody, "description": "Not signed in."},
        403: {"model": ErrorBody, "description": "The slide's case is not yours to see."},
        404: {"model": ErrorBody, "description": "No such slide, tile or image."},
        410: {"model": ErrorBody, "description": "The slide file has vanished."},
        422: {"model": ErrorBody, "description": "The slide file cannot be read."},
    },
)

# SQLite and PostgreSQL keys are signed 64-bit: a larger id is refused before it reaches them.
SlideId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The slide's id.")]
Level = Annotated[int, PathParam(ge=0, le=64, description="Deep Zoom level (0 is 1x1 px).")]
IfNoneMatch = Annotated[str | None, Header(include_in_schema=False)]

DZI_CACHE_CONTROL = "private, no-cache"
IMAGE_CACHE_CONTROL = "private, max-age=3600"
_TILE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
    304: {"description": "The tile named in If-None-Match is still current."},
}
_JPEG_RESPONSE: dict[int | str, dict[str, object]] = {200: {"content": {"image/jpeg": {}}}}


def _slide_file(state: AppState, access: SlideAccess) -> Path | None:
    return resolve_slide_file(state.settings, access.file_path)


def _open(state: AppState, session: SessionDep, user: CurrentUser, slide_id: int) -> SlideAccess:
    """The slide's access (a refusal audited once per session); the caller audits the
    opening with ``state.views.opened`` once it has read what it shows."""
    return open_slide(session, user, slide_id, views=state.views)


@router.get(
    "/slides/{slide_id}.dzi",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def slide_descriptor(
    slide_id: SlideId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    prefetch: PrefetchDep,
) -> Response:
    """The Deep Zoom descriptor (XML). Opening it opens the slide: one audit record per
    sign-in session (none if a tile of this session opened it already). It is never served
    from the browser's cache (``no-cache``), so opening a prefetched slide is audited too."""
    access = _open(state, session, user, slide_id)
    xml = state.tiles.descriptor(slide_id, _slide_file(state, access))
    state.views.opened(state.engine, user, access, prefetched=prefetch)
    return Response(xml, media_type="application/xml", headers={"Cache-Control": DZI_CACHE_CONTROL})


@router.get(
    "/slides/{slide_id}_files/{level}/{address}",
    response_class=Response,
    responses=_TILE_RESPONSES,
)
async def slide_tile(
    request: Request,
    slide_id: SlideId,
    level: Level,
    address: Annotated[str, PathParam(max_length=40, description="COL_ROW.EXT")],
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One tile, ``COL_ROW.EXT`` with the extension of the descriptor's ``Format``.

    The hot path of the viewer: the session and the access check (one query, no memory of
    earlier answers) and the tile read run together in one worker thread (one hand-over
    instead of one per dependency), never on the event loop. The first tile of a sign-in
    session audits the opening if the descriptor did not.
    """
    started_s = time.perf_counter()  # the whole answer: parsing, access check, hand-over, read
    column, row, extension = parse_tile_address(address)
    state = get_state(request)
    credential = credential_from_request(request)
    if credential is None:
        raise NotAuthenticatedError("sign in first: no bearer token or session cookie")
    prefetch = is_prefetch(request)

    def serve() -> TileResponse:
        with state.engine.connect() as connection:
            user, access = state.slide_gate.open(connection, credential.token, slide_id)
        tile = state.tiles.tile(
            slide_id,
            _slide_file(state, access),
            level,
            column,
            row,
            extension,
            if_none_match=if_none_match,
        )
        # After the read: a tile that cannot be read opened nothing.
        state.views.opened(state.engine, user, access, prefetched=prefetch)
        return tile

    tile = await anyio.to_thread.run_sync(serve)
    state.metrics.observe_tile(source=tile.source, seconds=time.perf_counter() - started_s)
    headers = {"ETag": tile.etag, "Cache-Control": tile.cache_control}
    if tile.data is None:
        return Response(status_code=304, headers=headers)
    return Response(tile.data, media_type=tile.media_type, headers=headers)


@router.get("/slides/{slide_id}", response_model=SlidePublic)
def slide_metadata(
    slide_id: SlideId, user: CurrentUser, session: SessionDep, state: StateDep
) -> SlidePublic:
    """Size, resolution, objective, vendor, levels, tiling and pyramid state of a slide."""
    access = _open(state, session, user, slide_id)
    slide = session.get_one(Slide, slide_id)
    facts = state.tiles.facts(slide_id, _slide_file(state, access))
    state.views.opened(state.engine, user, access)
    mpp_x, mpp_y = facts.mpp_um if facts.mpp_um is not None else (None, None)
    return SlidePublic(
        id=slide.id,
        case_id=access.case_id,
        specimen_label=slide.block.specimen.label,
        block_label=slide.block.label,
        stain=slide.stain,
        width_px=facts.width_px,
        height_px=facts.height_px,
        mpp_x_um=mpp_x,
        mpp_y_um=mpp_y,
        objective_power=facts.objective_power,
        vendor=facts.vendor,
        format_name=facts.format_name,
        slide_levels=[SlideLevel(width_px=w, height_px=h) for w, h in facts.slide_levels],
        deepzoom=DeepZoomInfo(
            dzi_url=f"/slides/{slide_id}.dzi",
            tile_size_px=facts.tile_size_px,
            overlap_px=facts.overlap_px,
            tile_format=facts.tile_format,
            level_count=facts.level_count,
            prebuilt=facts.prebuilt,
        ),
        pyramid_status=slide.pyramid_status,
        associated_images=list(facts.associated_image_names),
    )


@router.get("/slides/{slide_id}/thumbnail", response_class=Response, responses=_JPEG_RESPONSE)
def slide_thumbnail(
    slide_id: SlideId,
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    prefetch: PrefetchDep,
    max_px: Annotated[int, Query(ge=16, le=2048, description="Longest side.")] = 512,
) -> Response:
    """A JPEG of the whole slide (tissue only: no label) at most ``max_px`` on its longer side."""
    access = _open(state, session, user, slide_id)
    data = state.tiles.thumbnail(slide_id, _slide_file(state, access), max_px)
    state.views.opened(state.engine, user, access, prefetched=prefetch)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": IMAGE_CACHE_CONTROL})


def _associated(
    name: str, slide_id: int, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    # Whoever may see the case may see these (open_slide decides, and audits a refusal each
    # time: no views= memory); each view is audited on its own, by name.
    access = open_slide(session, user, slide_id)
    data = state.tiles.associated(slide_id, _slide_file(state, access), name)
    _record_image_view(state, access, name)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _record_image_view(state: AppState, access: SlideAccess, name: str) -> None:
    """Each view of the label or the macro is audited, by name."""
    record_view(
        engine=state.engine,
        actor=access.actor,
        case_id=access.case_id,
        slide_id=access.slide_id,
        image=name,
        refused_reason=None,
    )


@router.get("/slides/{slide_id}/label", response_class=Response, responses=_JPEG_RESPONSE)
def slide_label(
    slide_id: SlideId, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    """The label image (patient identifiers): clinical roles who may see the case; audited."""
    return _associated("label", slide_id, user, session, state)


@router.get("/slides/{slide_id}/macro", response_class=Response, responses=_JPEG_RESPONSE)
def slide_macro(
    slide_id: SlideId, user: CurrentUser, session: SessionDep, state: StateDep
) -> Response:
    """The macro image of the whole glass, label included: clinical roles; audited."""
    return _associated("macro", slide_id, user, session, state)
