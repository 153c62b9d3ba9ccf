"""OpenAI chat completions and the glmocr layout-parsing response (shapes their clients read)."""

from __future__ import annotations

import pytest

from ocrops.errors import OcropsError
from ocrops.serving.protocols import PROMPT, chat_completion, chat_image, layout_parsing


def _messages(*parts, role="user"):
    return [{"role": "system", "content": "ignored"}, {"role": role, "content": list(parts)}]


def test_chat_image_takes_the_data_uri_and_the_recognition_prompt():
    uri = "data:image/png;base64,AAAA"
    assert chat_image(_messages({"type": "image_url", "image_url": {"url": uri}},
                                {"type": "text", "text": PROMPT})) == uri
    assert chat_image(_messages({"type": "image_url", "image_url": uri})) == uri  # prompt optional


@pytest.mark.parametrize("messages", [
    [],
    _messages({"type": "text", "text": PROMPT}),
    _messages({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}),
    _messages({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
              {"type": "image_url", "image_url": {"url": "data:image/png;base64,BB"}}),
    _messages({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
              {"type": "text", "text": "Formula Recognition:"}),
    _messages("just a string"),
])
def test_chat_requests_it_cannot_serve_are_4002(messages):
    with pytest.raises(OcropsError) as caught:
        chat_image(messages)
    assert int(caught.value.code) == 4002


def test_chat_completion_shape():
    body = chat_completion("text", "ocrops", "r1")
    assert body["object"] == "chat.completion" and body["choices"][0]["message"] == {
        "role": "assistant", "content": "text"}


def test_layout_parsing_gives_one_page_of_text_regions_in_pixels():
    result = {"lines": [{"text": "a", "box": [[10, 5], [50, 5], [50, 20], [10, 20]]},
                        {"text": "b", "box": [[10, 30], [60, 30], [60, 44.6], [10, 44.6]]}]}
    body = layout_parsing([(result, 100, 50)], "ocrops", "r1")
    regions = body["layout_details"][0]
    assert [r["bbox_2d"] for r in regions] == [[10, 5, 50, 20], [10, 30, 60, 45]]
    assert body["md_results"] == "a\n\nb" and body["data_info"]["pages"] == [{"width": 100, "height": 50}]


def test_layout_parsing_gives_a_document_page_by_page():
    one = {"lines": [{"text": "a", "box": [[10, 5], [50, 5], [50, 20], [10, 20]]}]}
    two = {"lines": [{"text": "b", "box": [[1, 2], [3, 2], [3, 4], [1, 4]]}, {"text": "c", "box": [[1, 6], [3, 6],
                                                                                                   [3, 8], [1, 8]]}]}
    body = layout_parsing([(one, 100, 50), (two, 200, 80)], "ocrops", "r1")
    assert [[r["content"] for r in page] for page in body["layout_details"]] == [["a"], ["b", "c"]]
    assert body["data_info"] == {"num_pages": 2, "pages": [{"width": 100, "height": 50}, {"width": 200, "height": 80}]}
