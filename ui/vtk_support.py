"""VTK inside Qt, on a desktop and without a display, and reading back what VTK drew.

On a desktop (Qt's ``xcb`` platform: a real X server, or Xvfb), ``QVTKRenderWindowInteractor``
renders into the widget's own native window, as usual.

Without a display the test suite and CI use Qt's ``offscreen`` platform (``tests/conftest.py`` sets
``QT_QPA_PLATFORM=offscreen`` when neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is set). There Qt
hands VTK a fake window id, and a normal render window draws nothing ("Could not create shader
object", one flat colour). So under ``offscreen`` (or ``minimal``) the interactor gets its own
render window: a ``vtkEGLRenderWindow`` that ignores the fake id and renders off screen through
EGL (Mesa llvmpipe here: ``libegl1``, ``libegl-mesa0``, ``libgl1-mesa-dri``, all in ``.ci/run``).
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` is set too (if unset), so any other render window
made in the process takes EGL as well. Nothing has to be added to ``tests/conftest.py`` or the CI
script; no X server is needed. Xvfb + ``xcb`` also works (``xvfb-run -a python -m pytest``) and
takes the desktop path.

On a Wayland session start DrugDesk with ``QT_QPA_PLATFORM=xcb`` (XWayland): VTK's wheels render
into X windows.

``QWidget.grab()`` leaves the VTK area black in every mode; :func:`render_window_image` reads the
render window itself through ``vtkWindowToImageFilter``. Call ``Finalize()`` on the interactor
before it is destroyed, so its GL context is released while the widget still exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkIOImage import vtkPNGWriter
from vtkmodules.vtkRenderingCore import vtkRenderWindow, vtkWindowToImageFilter
from vtkmodules.vtkRenderingOpenGL2 import vtkEGLRenderWindow

from core.fileio import write_bytes_atomic

HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal"})


class HeadlessRenderWindow(vtkEGLRenderWindow):
    """An off-screen EGL render window that ignores the window id Qt's offscreen platform fakes."""

    def __init__(self) -> None:
        super().__init__()
        self.SetOffScreenRendering(True)

    def SetWindowInfo(self, info: str) -> None:
        """Ignored: the id is not a real window and would make rendering fail."""


def is_headless() -> bool:
    """True when Qt has no real screen (the ``offscreen`` or ``minimal`` platform)."""
    application = QGuiApplication.instance()
    if application is not None:
        platform = QGuiApplication.platformName()
    else:
        platform = os.environ.get("QT_QPA_PLATFORM", "")
    return platform.split(":")[0] in HEADLESS_PLATFORMS


def create_interactor(parent: QWidget | None = None) -> QVTKRenderWindowInteractor:
    """A ``QVTKRenderWindowInteractor`` that renders on a desktop and headless alike.

    Trackball-camera interaction (drag: rotate, wheel: zoom, middle drag / shift-drag: pan).
    Call ``Initialize()`` once it is in a layout, and ``Finalize()`` before it is destroyed.
    """
    if is_headless():
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        interactor = QVTKRenderWindowInteractor(parent, rw=HeadlessRenderWindow())
    else:
        interactor = QVTKRenderWindowInteractor(parent)
    interactor.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
    return interactor


def render_window_image(render_window: vtkRenderWindow) -> np.ndarray:
    """Render and return the window's pixels as a ``(height, width, 3)`` uint8 array, top row first."""
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(render_window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()  # the back buffer holds the frame just rendered, in every mode
    grabber.ShouldRerenderOn()
    grabber.Update()
    image = grabber.GetOutput()
    width, height, _ = image.GetDimensions()
    scalars = image.GetPointData().GetScalars()
    pixels = vtk_to_numpy(scalars).reshape(height, width, scalars.GetNumberOfComponents())
    return np.ascontiguousarray(pixels[::-1, :, :3])  # VTK's rows start at the bottom


def save_render_window_png(render_window: vtkRenderWindow, path: str | os.PathLike) -> Path:
    """Write what the render window shows to a PNG file (for screenshots and bug reports)."""
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(render_window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.Update()
    writer = vtkPNGWriter()
    # VTK's file writers report a failed write (a full disk) only to its log: encode in memory
    # and let core.fileio write the bytes, atomically and with a one-line error.
    writer.WriteToMemoryOn()
    writer.SetInputConnection(grabber.GetOutputPort())
    writer.Write()
    return write_bytes_atomic(path, vtk_to_numpy(writer.GetResult()).tobytes())


def grab_widget(widget: QWidget) -> QPixmap:
    """``widget.grab()`` with the pictures of its VTK views painted in (``grab()`` leaves them black).

    For screenshots of windows that hold VTK views, on a desktop and headless alike.
    """
    picture = widget.grab()
    painter = QPainter(picture)
    try:
        for interactor in widget.findChildren(QVTKRenderWindowInteractor):
            if not interactor.isVisible():
                continue
            pixels = render_window_image(interactor.GetRenderWindow())
            height, width, _ = pixels.shape
            image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
            target = interactor.mapTo(widget, QPoint(0, 0))
            # The render window counts device pixels; the widget, logical ones.
            painter.drawImage(interactor.rect().translated(target), image.copy())
    finally:
        painter.end()
    return picture
