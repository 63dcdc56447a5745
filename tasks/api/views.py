"""Batches over HTTP: create, read progress, list links, export CSV. Each user sees their own."""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, transaction
from django.db.models import QuerySet
from django.http import HttpResponseBase, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from access.grants import narrowed_q, scope_of_request
from access.permissions import recipients_refusal
from common.apierrors import ErrorSerializer, FieldConflict, FieldForbidden, FieldNotFound
from common.apischema import error_responses
from common.pagination import Cursor
from common.throttling import LimitExceeded
from idempotency import keys as idempotency
from tasks.api.serializers import (
    BatchCreateSerializer,
    BatchSerializer,
    LinkSerializer,
    RevocationSerializer,
)
from tasks.batches import enqueue
from tasks.batches.issuing import StorageUnavailable, create_batch
from tasks.batches.keyscope import OutOfScope
from tasks.batches.quotas import QuotaExceeded
from tasks.batches.spec import BatchInputError, InputConflict, NothingToShare
from tasks.events.export import csv_pieces, export_rows
from tasks.models import Batch, Revocation, ShareLink
from tasks.permalinks.serving import permalink_maker
from tasks.revocation.revoke import revocation_for, revoke


class CSVRenderer(BaseRenderer):
    """Selects `?format=csv`; the export itself is streamed by the view, and errors are the
    JSON Error body (common.apierrors), so nothing is rendered here but by mistake."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, dict):
            return "".join(f"{name}: {value}\n" for name, value in data.items())
        return str(data)


class LinksQuery(serializers.Serializer[dict[str, Any]]):
    """The query of a batch's links: each parameter once, of its documented type, or 400."""

    format = serializers.ChoiceField(["json", "csv"], required=False)
    page_size = serializers.IntegerField(required=False)  # the paginator bounds it
    cursor = serializers.CharField(required=False, allow_blank=True)


class LinkPagination(Cursor):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


class Busy(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "busy"
    default_detail = (
        "the link is busy (a row lock held longer than LINKS_LOCK_TIMEOUT): its revocation "
        "is completed in the background; check the link again shortly"
    )
    wait = 5


class Unfinished(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "unfinished"


def quota_refusal(error: QuotaExceeded) -> LimitExceeded:
    """429 with Retry-After when waiting lifts the quota; 403 when only the caller can."""
    if error.retry_after is None:
        return LimitExceeded(error.limit, error.message, status_code=status.HTTP_403_FORBIDDEN)
    return LimitExceeded(error.limit, error.message, wait=error.retry_after)


class BatchViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet[Batch],
):
    serializer_class = BatchSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    key_scoped = True  # a narrowed token sees the batches whose keys all lie in its scope
    validates_query = ("links",)  # its query answers 400 (LinksQuery)

    def get_queryset(self) -> QuerySet[Batch]:
        owner = self.request.user.pk  # IsAuthenticated: never an anonymous user here
        rows = Batch.objects.filter(narrowed_q(self.request, "key_root"), owner_id=owner)
        return rows.prefetch_related("recipients")

    @extend_schema(
        summary="List your batches",
        description="Newest first, paged (`page`); each with its status and counts.",
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Read a batch",
        description="Its status (`pending` → `signing` → `done` or `failed`), counts, error, "
        "the first 1,000 skipped keys, and its recipients.",
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Create a batch",
        description="Signs a link for each key (or each object under `prefix`) on the "
        "workers, then delivers them to the recipients. Answers at once with the batch, "
        "`pending` (stored even when the broker is down: the sweeper queues it later); follow "
        "it with GET. A generated webhook secret appears once, here. With an "
        "Idempotency-Key, a retry gets the first answer. Refused input writes nothing.",
        request=BatchCreateSerializer,
        parameters=[idempotency.PARAMETER],
        responses={
            201: BatchSerializer,
            **error_responses(404, 409, 503),
            403: OpenApiResponse(
                ErrorSerializer,
                description="The token may not do this, or the owner is at their refreshing "
                "links quota (code `limit_exceeded`, limit LINKS_QUOTA_REFRESHING_LINKS).",
            ),
            429: OpenApiResponse(
                ErrorSerializer,
                description="Over a per-user rate (API_THROTTLE_RATE, API_THROTTLE_WRITE_RATE) "
                "or the owner's batches per hour (LINKS_QUOTA_BATCHES_PER_HOUR): `limit` names "
                "it; try again after `Retry-After` seconds.",
            ),
            **idempotency.RESPONSES,
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create a batch: store it and queue its signing.

        The stored batch is the answer even when the broker is down (the sweeper queues it
        once the broker is back). With an Idempotency-Key, a retry gets the first answer.
        """
        return idempotency.idempotent(request, "batches", lambda: self.create_now(request))

    def create_now(self, request: Request) -> Response:
        given = BatchCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        refusal = recipients_refusal(request, given.validated_data.get("recipients"))
        if refusal:
            raise FieldForbidden(*refusal)
        try:
            created = create_batch(
                given.to_request(), owner=request.user, scope=scope_of_request(request)
            )
        except OutOfScope as error:
            raise FieldForbidden(error.field, error.message) from None
        except NothingToShare as error:
            raise FieldNotFound(error.field, error.message) from None
        except InputConflict as error:
            raise FieldConflict(error.field, error.message) from None
        except BatchInputError as error:
            raise ValidationError({error.field: [error.message]}) from None
        except QuotaExceeded as error:
            raise quota_refusal(error) from None
        except StorageUnavailable as error:
            raise ServiceUnavailable(str(error)) from None
        secrets = {recipient.id: secret for recipient, secret in created.secrets}
        body = BatchSerializer(created.batch, context={"secrets": secrets}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="List a batch's links, or export them as CSV",
        description="JSON: cursor-paginated links (`page_size` up to 1,000; follow `next`). "
        "`?format=csv`: the whole batch streamed as CSV (`key,url,expires_at,permalink,"
        "status`, keys without a link listed as missing/invalid); 409 until signing has "
        "finished.",
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="`csv`: the whole batch as one CSV file, streamed.",
            )
        ],
        responses={
            (200, "application/json"): LinkSerializer(many=True),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="key,url,expires_at,permalink,status"
            ),
            **error_responses(409),
        },
    )
    @action(
        detail=True,
        renderer_classes=[JSONRenderer, BrowsableAPIRenderer, CSVRenderer],
        pagination_class=LinkPagination,
    )
    def links(self, request: Request, pk: str | None = None) -> HttpResponseBase:
        query = {
            name: values[0] if len(values) == 1 else values
            for name, values in request.query_params.lists()
        }
        LinksQuery(data=query).is_valid(raise_exception=True)
        batch = self.get_object()
        if request.accepted_renderer.format == "csv":
            return self.export(batch)
        # The stubs tie paginate_queryset to the view's model; DRF pages any queryset.
        page = self.paginate_queryset(batch.links.all())  # type: ignore[arg-type]
        context = {"permalink": permalink_maker()}
        return self.get_paginated_response(LinkSerializer(page, many=True, context=context).data)

    @extend_schema(request=None, responses={202: RevocationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke a batch's links

        A task revokes every active link: no more refreshes, permalinks answer 410,
        recipients get `links.revoked`. Answers 202 and a revocation to follow at its `url`
        (also the `Location` header); the batch's unfinished revocation when there is one.
        S3 cannot take back a URL already handed out: it works until it expires.
        """
        with transaction.atomic():
            revocation, new = revocation_for(self.get_object(), by=request.user)
            if new:
                enqueue.revocation_on_commit(revocation.id)
        body = RevocationSerializer(revocation).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})

    @staticmethod
    def export(batch: Batch) -> StreamingHttpResponse:
        if batch.status in (Batch.Status.PENDING, Batch.Status.SIGNING):
            raise Unfinished(
                f"batch {batch.id} is {batch.status} ({batch.processed} of {batch.total} keys "
                "done): export it once its status is done"
            )
        response = StreamingHttpResponse(
            csv_pieces(export_rows(batch)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.id}.csv"'
        return response


class RevocationViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet[Revocation]):
    """A batch revocation's progress: pending, revoking, announcing, then done (or failed)."""

    serializer_class = RevocationSerializer
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    key_scoped = True

    def get_queryset(self) -> QuerySet[Revocation]:
        scoped = narrowed_q(self.request, "batch__key_root")
        return Revocation.objects.filter(scoped, batch__owner_id=self.request.user.pk)


class LinkViewSet(viewsets.GenericViewSet[ShareLink]):
    """Links of the caller's batches; another user's link is a 404."""

    serializer_class = LinkSerializer
    lookup_value_regex = "[0-9]+"
    key_scoped = True

    def get_queryset(self) -> QuerySet[ShareLink]:
        scoped = narrowed_q(self.request, "key")
        return ShareLink.objects.filter(scoped, batch__owner_id=self.request.user.pk)

    @extend_schema(
        request=None,
        responses={
            200: LinkSerializer,
            **error_responses(503),
        },
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke a link

        No more refreshes, its permalink answers 410, recipients are told. A URL already
        handed out stays valid until it expires (S3 cannot take it back).
        """
        link = self.get_object()
        try:
            revoke(ShareLink.objects.filter(id=link.id), by=request.user)
        except OperationalError:  # a row lock held past LINKS_LOCK_TIMEOUT
            raise Busy() from None
        link.refresh_from_db()
        context = {"permalink": permalink_maker()}
        return Response(LinkSerializer(link, context=context).data)
