"""Response bodies of the slide routes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from worklist.enums import PyramidStatus


class SlideLevel(BaseModel):
    """One resolution level stored in the slide file."""

    width_px: int
    height_px: int


class DeepZoomInfo(BaseModel):
    """How the slide is tiled for the viewer."""

    dzi_url: str = Field(description="The Deep Zoom descriptor; hand it to OpenSeadragon.")
    tile_size_px: int
    overlap_px: int
    tile_format: str
    level_count: int
    prebuilt: bool = Field(description="Tiles come from the pre-built pyramid (else on the fly).")


class SlidePublic(BaseModel):
    """A slide's metadata: size, resolution, objective, vendor, levels, pyramid state."""

    id: int
    case_id: int
    specimen_label: str
    block_label: str
    stain: str
    width_px: int
    height_px: int
    mpp_x_um: float | None = Field(description="Microns per pixel at full resolution.")
    mpp_y_um: float | None
    objective_power: float | None
    vendor: str | None
    format_name: str
    slide_levels: list[SlideLevel]
    deepzoom: DeepZoomInfo
    pyramid_status: PyramidStatus
    associated_images: list[str] = Field(
        description="Names of the associated images (label and macro: each view is audited)."
    )
