"""%flowai_studio finds the Jupyter server the kernel runs under and links to its Studio."""

from __future__ import annotations

import pytest


def test_the_server_whose_root_holds_the_notebook_wins(monkeypatch, tmp_path):
    import jupyter_server.serverapp as serverapp

    from flowai_nb.studio.jupyter import studio_link, studio_url

    nested = tmp_path / "projects" / "retail"
    nested.mkdir(parents=True)
    servers = [
        {"url": "http://127.0.0.1:9001/", "root_dir": str(tmp_path / "elsewhere")},
        {"url": "http://127.0.0.1:9002/lab-base/", "root_dir": str(tmp_path)},
        {"url": "http://127.0.0.1:9003/", "root_dir": str(tmp_path / "projects")},
    ]
    monkeypatch.setattr(serverapp, "list_running_servers", lambda: iter(servers))
    monkeypatch.chdir(nested)
    assert studio_url() == "http://127.0.0.1:9003/flowai-studio/"
    link = studio_link()
    assert 'href="http://127.0.0.1:9003/flowai-studio/"' in link._repr_html_()
    assert repr(link) == "flowai_nb Studio: http://127.0.0.1:9003/flowai-studio/"
    monkeypatch.chdir(tmp_path)
    assert studio_url() == "http://127.0.0.1:9002/lab-base/flowai-studio/"
    monkeypatch.setattr(serverapp, "list_running_servers", lambda: iter([]))
    assert "flowai-nb studio" in repr(studio_link())


def test_the_magic_shows_the_link(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    import flowai_nb.studio.jupyter as studio_jupyter

    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("flowai_nb")
    monkeypatch.setattr(studio_jupyter, "studio_url", lambda: "http://127.0.0.1:1/flowai-studio/")
    link = ip.run_line_magic("flowai_studio", "")
    assert link.url == "http://127.0.0.1:1/flowai-studio/"
    with pytest.raises(ValueError, match="no arguments"):
        ip.run_line_magic("flowai_studio", "app:app")
    ip.extension_manager.unload_extension("flowai_nb")
