import { UseGuards } from '@nestjs/common';
import {
  ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer,
} from '@nestjs/websockets';
import { IsInt, IsString, Min, MinLength } from 'class-validator';
import { Server, Socket } from 'socket.io';
import { AuctionsService } from './auctions.service';
import { AdminGuard, WsJwtGuard } from './auth';

class JoinAuction {
  @IsString() @MinLength(1) auctionId: string;
}

class PlaceBid {
  @IsString() @MinLength(1) auctionId: string;
  @IsInt() @Min(1) amount: number;
}

@WebSocketGateway({ namespace: 'auction' })
@UseGuards(WsJwtGuard)
export class AuctionGateway {
  @WebSocketServer() server: Server;

  constructor(private readonly auctions: AuctionsService) {}

  @SubscribeMessage('join')
  join(@ConnectedSocket() client: Socket, @MessageBody() body: JoinAuction) {
    client.join(body.auctionId);
    return this.auctions.highest(body.auctionId);
  }

  @SubscribeMessage('bid')
  bid(@ConnectedSocket() client: Socket, @MessageBody() body: PlaceBid) {
    const bidder = client.data.user.sub;
    this.auctions.place(body.auctionId, bidder, body.amount); // throws WsException if too low
    this.server.to(body.auctionId).emit('bid', { bidder, amount: body.amount });
    return { accepted: true };
  }

  @UseGuards(AdminGuard)
  @SubscribeMessage('close')
  close(@MessageBody() body: JoinAuction) {
    const winner = this.auctions.close(body.auctionId);
    this.server.to(body.auctionId).emit('closed', winner);
  }
}
